"""Keyset (cursor) pagination over (started_at, id), newest first, and date-range filters."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from evbill.api.problems import BadRequest

__all__ = ["Cursor", "Window", "decode_cursor", "encode_cursor", "keyset"]

MAX_LIMIT = 200


@dataclass(frozen=True, slots=True)
class Cursor:
    at: datetime
    id: int


@dataclass(frozen=True, slots=True)
class Window:
    """A page request: how many, after which cursor, within which dates."""

    limit: int = 20
    cursor: Cursor | None = None
    since: datetime | None = None
    until: datetime | None = None


def encode_cursor(at: datetime, row_id: int) -> str:
    raw = f"{at.isoformat()}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(value: str | None) -> Cursor | None:
    if not value:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("utf-8")
        at_text, _, id_text = raw.partition("|")
        at = datetime.fromisoformat(at_text)
        if at.tzinfo is None:
            raise ValueError("naive")
        return Cursor(at, int(id_text))
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("cursor: not a cursor this API issued") from None


def window(limit: int, cursor: str | None, since: datetime | None,
           until: datetime | None) -> Window:  # fmt: skip
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit: must be 1 to {MAX_LIMIT}, got {limit}")
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise BadRequest(f"{name}: give an ISO 8601 time with an offset (e.g. Z)")
    return Window(limit, decode_cursor(cursor), since, until)


def keyset(stmt: Any, at_col: InstrumentedAttribute[datetime],
           id_col: InstrumentedAttribute[int], win: Window) -> Any:  # fmt: skip
    """Apply the window: date range, position after the cursor, newest first, limit + 1."""
    if win.since is not None:
        stmt = stmt.where(at_col >= win.since)
    if win.until is not None:
        stmt = stmt.where(at_col < win.until)
    if win.cursor is not None:
        c = win.cursor
        stmt = stmt.where(or_(at_col < c.at, and_(at_col == c.at, id_col < c.id)))
    return stmt.order_by(at_col.desc(), id_col.desc()).limit(win.limit + 1)
