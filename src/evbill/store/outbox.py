"""The station command outbox: operator commands (remote start/stop, reset, tariff updates)
queued in the database and drained by whichever gateway process holds the station's socket.

Each function is one transaction. On PostgreSQL, `claim_pending` locks with `SKIP LOCKED`
so several gateways can poll the same table without taking one command twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from evbill.store.database import Database
from evbill.store.tables import StationCommandRow, StationRow

__all__ = [
    "StationCommand",
    "StationCommandError",
    "StationCommandOutbox",
]

PENDING, SENT, DONE, FAILED = "pending", "sent", "done", "failed"


class StationCommandError(LookupError):
    """A station command that does not exist or is not in the state the caller expects."""


@dataclass(frozen=True, slots=True)
class StationCommand:
    id: str
    station_id: str
    action: str
    payload: dict[str, Any]
    status: str
    result: dict[str, Any] | None
    error: str | None
    created_at: datetime
    sent_at: datetime | None
    finished_at: datetime | None


def _view(row: StationCommandRow) -> StationCommand:
    return StationCommand(
        id=row.id, station_id=row.station_id, action=row.action, payload=dict(row.payload),
        status=row.status, result=row.result, error=row.error, created_at=row.created_at,
        sent_at=row.sent_at, finished_at=row.finished_at,
    )  # fmt: skip


class StationCommandOutbox:
    """Enqueue (CLI/API side), claim and finish (gateway side) station commands."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def enqueue(
        self,
        station_id: str,
        action: str,
        payload: dict[str, Any],
        *,
        now: datetime,
        command_id: str | None = None,
    ) -> StationCommand:
        with self._db.sessions() as s, s.begin():
            if s.get(StationRow, station_id) is None:
                raise StationCommandError(f"station_id: station {station_id!r} is not registered")
            row = StationCommandRow(
                id=command_id or uuid.uuid4().hex, station_id=station_id, action=action,
                payload=payload, status=PENDING, created_at=now,
            )  # fmt: skip
            s.add(row)
            s.flush()
            return _view(row)

    def claim_pending(
        self, station_ids: Sequence[str], *, claimed_by: str, now: datetime, limit: int = 50
    ) -> list[StationCommand]:
        """Mark the oldest pending commands of these stations as sent to `claimed_by`."""
        if not station_ids:
            return []
        with self._db.sessions() as s, s.begin():
            stmt = (
                select(StationCommandRow)
                .where(
                    StationCommandRow.station_id.in_(list(station_ids)),
                    StationCommandRow.status == PENDING,
                )
                .order_by(StationCommandRow.created_at, StationCommandRow.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            rows = list(s.scalars(stmt))
            for row in rows:
                row.status, row.sent_at, row.claimed_by = SENT, now, claimed_by
            return [_view(row) for row in rows]

    def finish(
        self,
        command_id: str,
        *,
        now: datetime,
        result: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> StationCommand:
        """Record the station's answer (`done`) or why it failed (`failed`, with `error`)."""
        with self._db.sessions() as s, s.begin():
            row = s.get(StationCommandRow, command_id, with_for_update=True)
            if row is None:
                raise StationCommandError(f"command_id: no station command {command_id!r}")
            if row.status in (DONE, FAILED):
                raise StationCommandError(
                    f"command_id: station command {command_id!r} is already {row.status}"
                )
            row.status = FAILED if error is not None else DONE
            row.result, row.error, row.finished_at = result, error, now
            return _view(row)

    def get(self, command_id: str) -> StationCommand | None:
        with self._db.read_sessions() as s:
            row = s.get(StationCommandRow, command_id)
            return None if row is None else _view(row)

    def list(
        self, station_id: str | None = None, status: str | None = None
    ) -> list[StationCommand]:
        with self._db.read_sessions() as s:
            stmt = select(StationCommandRow).order_by(StationCommandRow.created_at)
            if station_id is not None:
                stmt = stmt.where(StationCommandRow.station_id == station_id)
            if status is not None:
                stmt = stmt.where(StationCommandRow.status == status)
            return [_view(row) for row in s.scalars(stmt)]
