"""Id tokens (RFID cards, Autocharge MAC addresses, eMAIDs, …): normalisation and registration."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from evbill.sessions.commands import IdTokenType
from evbill.store.database import Database
from evbill.store.tables import IdTokenRow

__all__ = ["TOKEN_STATUSES", "TokenError", "TokenRegistry", "normalize_token"]

#: What an operator can set on a token (Expired comes from `expires_at`, Unknown from absence).
TOKEN_STATUSES = ("Accepted", "Blocked", "Invalid")

_SEPARATORS = re.compile(r"[\s:\-.]")


class TokenError(ValueError):
    """A token that cannot be registered (bad value, type or status, or a duplicate)."""


def normalize_token(value: str, type_: IdTokenType) -> str:
    """The form tokens are stored and looked up in.

    RFID UIDs and MAC addresses are hex: upper case, separators dropped ("aa:bb" = "AABB").
    eMAIDs compare without dashes, upper case ("DE-8EO-C12E45A67-3" = "DE8EOC12E45A673").
    Other types are taken as sent, trimmed.
    """
    text = value.strip()
    if type_ in (IdTokenType.ISO14443, IdTokenType.ISO15693, IdTokenType.MAC_ADDRESS):
        compact = _SEPARATORS.sub("", text)
        if re.fullmatch(r"[0-9A-Fa-f]+", compact):
            return compact.upper()
        return text
    if type_ is IdTokenType.EMAID:
        return text.replace("-", "").upper()
    return text


class TokenRegistry:
    """Register and look up tokens; each method is one transaction."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(
        self,
        value: str,
        *,
        type_: IdTokenType = IdTokenType.ISO14443,
        status: str = "Accepted",
        account: str | None = None,
        group_id: str | None = None,
        expires_at: datetime | None = None,
        now: datetime,
    ) -> IdTokenRow:
        if status not in TOKEN_STATUSES:
            raise TokenError(f"status: {status!r} is not one of {', '.join(TOKEN_STATUSES)}")
        normalized = normalize_token(value, type_)
        if not normalized or len(normalized) > 255:
            raise TokenError(f"value: {value!r} is empty or longer than 255 characters")
        row = IdTokenRow(
            value=normalized, type=type_.value, status=status, account=account,
            group_id=group_id, expires_at=expires_at, created_at=now,
        )  # fmt: skip
        try:
            with self._db.sessions() as s, s.begin():
                s.add(row)
        except IntegrityError:
            raise TokenError(
                f"value: a {type_} token {normalized!r} is already registered"
            ) from None
        return row

    def set_status(self, value: str, type_: IdTokenType, status: str) -> None:
        if status not in TOKEN_STATUSES:
            raise TokenError(f"status: {status!r} is not one of {', '.join(TOKEN_STATUSES)}")
        with self._db.sessions() as s, s.begin():
            row = s.query(IdTokenRow).filter_by(
                value=normalize_token(value, type_), type=type_.value
            ).first()
            if row is None:
                raise TokenError(f"value: no {type_} token {value!r}")
            row.status = status
