"""Id tokens (RFID cards, Autocharge MAC addresses, eMAIDs, …): registration, issue and claim.

One value is one credential whatever its type (see `evbill.accounts.credentials`): registering
a value already registered under any type is refused. An operator registers a token for an
account directly, or issues a card with a verification code that a driver needs to link it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from evbill.accounts.credentials import ClaimCodes, credential_key, find_credential
from evbill.sessions.commands import IdTokenType
from evbill.store.database import Database
from evbill.store.tables import IdTokenRow

__all__ = ["TOKEN_STATUSES", "ClaimRefused", "IssuedCard", "TokenError", "TokenRegistry",
           "normalize_token"]  # fmt: skip

#: What an operator can set on a token (Expired comes from `expires_at`, Unknown from absence).
TOKEN_STATUSES = ("Accepted", "Blocked", "Invalid")


class TokenError(ValueError):
    """A token that cannot be registered (bad value, type or status, or a duplicate)."""


class ClaimRefused(TokenError):
    """A card a driver may not link: not issued for linking, linked already, or a wrong code
    (one answer for all three, so it tells nothing about other people's cards)."""


@dataclass(frozen=True, slots=True)
class IssuedCard:
    row: IdTokenRow
    code: str  # printed on the card (or its carrier letter); shown once, stored hashed


def normalize_token(value: str, type_: IdTokenType) -> str:
    """The form tokens are stored and looked up in (`credentials.credential_key`)."""
    return credential_key(value, type_)


_REFUSED = "uid: this card cannot be linked (not issued for linking, already linked, or the " \
    "verification code does not match)"  # fmt: skip


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
        claim_code_hash: str | None = None,
    ) -> IdTokenRow:
        if status not in TOKEN_STATUSES:
            raise TokenError(f"status: {status!r} is not one of {', '.join(TOKEN_STATUSES)}")
        if type_ is IdTokenType.NO_AUTHORIZATION:
            raise TokenError("type: NoAuthorization identifies nobody and cannot be registered")
        normalized = normalize_token(value, type_)
        if not normalized or len(normalized) > 255:
            raise TokenError(f"value: {value!r} is empty or longer than 255 characters")
        row = IdTokenRow(
            value=normalized, type=type_.value, status=status, account=account,
            group_id=group_id, expires_at=expires_at, created_at=now,
            claim_code_hash=claim_code_hash,
        )  # fmt: skip
        try:
            with self._db.sessions() as s, s.begin():
                s.add(row)
        except IntegrityError:
            raise TokenError(
                f"value: {normalized!r} is already registered (one token, one identity, "
                "whatever the type)"
            ) from None
        return row

    def issue(self, value: str, codes: ClaimCodes, *, type_: IdTokenType = IdTokenType.ISO14443,
              status: str = "Accepted", group_id: str | None = None,
              expires_at: datetime | None = None, now: datetime) -> IssuedCard:  # fmt: skip
        """Register a card for a driver to link, with its verification code."""
        code = codes.new()
        key = normalize_token(value, type_)
        row = self.add(value, type_=type_, status=status, group_id=group_id,
                       expires_at=expires_at, now=now,
                       claim_code_hash=codes.digest(key, code))  # fmt: skip
        return IssuedCard(row, code)

    def claim(self, value: str, code: str, account: str, codes: ClaimCodes,
              type_: IdTokenType = IdTokenType.ISO14443) -> IdTokenRow:  # fmt: skip
        """Link an issued card to `account` with its verification code (proof of possession).

        Idempotent: claiming a card already linked to `account` returns it. Raises
        `ClaimRefused` for anything else that is not a fresh issued card with a matching code.
        """
        with self._db.sessions() as s, s.begin():
            row = find_credential(s, value, type_, for_update=True)
            if row is not None and row.account == account:
                return row
            if row is None or row.account is not None or not codes.matches(
                row.value, code, row.claim_code_hash
            ):
                raise ClaimRefused(_REFUSED)
            done = s.execute(
                update(IdTokenRow)
                .where(IdTokenRow.id == row.id, IdTokenRow.account.is_(None),
                       IdTokenRow.claim_code_hash == row.claim_code_hash)
                .values(account=account, claim_code_hash=None)
                .execution_options(synchronize_session="fetch")
            )  # fmt: skip
            if done.rowcount != 1:  # type: ignore[attr-defined]
                raise ClaimRefused(_REFUSED)  # linked by someone else meanwhile
            s.refresh(row)
            return row

    def set_status(self, value: str, type_: IdTokenType, status: str) -> None:
        if status not in TOKEN_STATUSES:
            raise TokenError(f"status: {status!r} is not one of {', '.join(TOKEN_STATUSES)}")
        with self._db.sessions() as s, s.begin():
            row = find_credential(s, value, type_)
            if row is None:
                raise TokenError(f"value: no {type_} token {value!r}")
            row.status = status
