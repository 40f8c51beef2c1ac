"""SEPA direct debit mandates: a payment means of a postpaid account.

An account with an active mandate has its monthly invoices collected by SEPA direct debit
(UNTDID 4461 code 59, with the mandate reference, the issuer's creditor identifier and the
debtor's IBAN); without one, or once it is revoked, its invoices ask for a credit transfer (58).

The rules:
- one active mandate per account; storing a new reference for an account revokes the old one
  (the customer signed a new mandate), storing the same one again changes nothing;
- the same reference with another IBAN is an amendment of the debtor account (the EPC rulebook
  keeps the mandate); with another signature date or for another account it is refused;
- a revoked mandate stays revoked: its reference cannot be used again;
- a signature date in the future is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from evbill.ledger import accounts as ledger_accounts
from evbill.ledger.errors import InvalidAccount
from evbill.payments.context import log
from evbill.payments.refusals import Invalid, StateConflict
from evbill.payments.sepa import check_iban, check_mandate_reference, mask_iban
from evbill.payments.tables import PaymentMandateRow
from evbill.store.database import Database

__all__ = ["Mandate", "Mandates", "active_mandate"]


@dataclass(frozen=True, slots=True)
class Mandate:
    """A stored mandate; `str()` and `masked_iban` never show more than the IBAN's last four."""

    reference: str
    account: str
    debtor_iban: str
    signed_on: date
    status: str

    @property
    def masked_iban(self) -> str:
        return mask_iban(self.debtor_iban)

    def __str__(self) -> str:
        return (f"{self.account}: mandate {self.reference} ({self.status}), signed "
                f"{self.signed_on.isoformat()}, debits {self.masked_iban}")  # fmt: skip

    @classmethod
    def of(cls, row: PaymentMandateRow) -> Mandate:
        return cls(row.reference, row.account, row.debtor_iban, row.signed_on, row.status)


def active_mandate(s: Session, account: str) -> Mandate | None:
    """The account's active mandate inside the caller's transaction (invoicing asks this)."""
    row = s.scalar(select(PaymentMandateRow).where(PaymentMandateRow.active_account == account))
    return None if row is None else Mandate.of(row)


class Mandates:
    """Stores, revokes and finds the SEPA direct debit mandates of accounts."""

    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock

    def set(self, account: str, reference: str, iban: str, signed_on: date) -> str:
        """Store `account`'s signed mandate; returns what happened: `stored`, `unchanged`,
        `amended` (a new debtor IBAN) or `replaced <old reference>`."""
        _check_account(account)
        reference = check_mandate_reference(reference)
        iban = check_iban(iban)
        now = self.clock()
        if signed_on > now.date() + timedelta(days=1):  # a day's grace for time zones
            raise StateConflict(f"signed: {signed_on.isoformat()} is in the future")
        try:
            with self.db.sessions() as s:
                outcome = self._set(s, account, reference, iban, signed_on, now)
                s.commit()
        except IntegrityError:  # a concurrent writer stored one first: its word stands
            raise StateConflict(f"reference: mandate {reference} or account {account}'s "
                                "mandate changed meanwhile; run the command again") from None
        log.info("payments.mandate account=%s reference=%s outcome=%s", account, reference,
                 outcome)  # fmt: skip
        return outcome

    def _set(self, s: Session, account: str, reference: str, iban: str, signed_on: date,
             now: datetime) -> str:  # fmt: skip
        row = s.get(PaymentMandateRow, reference, with_for_update=True)
        if row is not None:
            if row.account != account:
                raise StateConflict(f"reference: mandate {reference} belongs to another account")
            if row.status != "active":
                raise StateConflict(f"reference: mandate {reference} was revoked; a new "
                                    "mandate needs a new reference")  # fmt: skip
            if row.signed_on != signed_on:
                raise StateConflict(f"signed: mandate {reference} was signed on "
                                    f"{row.signed_on.isoformat()}")  # fmt: skip
            if row.debtor_iban == iban:
                return "unchanged"
            row.debtor_iban, row.updated_at = iban, now
            return "amended"
        outcome = "stored"
        current = s.scalar(select(PaymentMandateRow).where(
            PaymentMandateRow.active_account == account).with_for_update())
        if current is not None:
            _revoke(current, now)
            s.flush()  # free the account's active slot before the new mandate takes it
            outcome = f"replaced {current.reference}"
        s.add(PaymentMandateRow(reference=reference, account=account, active_account=account,
                                debtor_iban=iban, signed_on=signed_on, status="active",
                                created_at=now, updated_at=now, revoked_at=None))
        return outcome

    def revoke(self, account: str, reference: str | None = None) -> str | None:
        """Revoke the account's active mandate (only if it is `reference`, when given);
        returns the revoked reference, None when there was none (a repeat changes nothing)."""
        with self.db.sessions() as s:
            row = s.scalar(select(PaymentMandateRow).where(
                PaymentMandateRow.active_account == account).with_for_update())
            if row is None or (reference is not None and row.reference != reference):
                return None
            _revoke(row, self.clock())
            s.commit()
            log.info("payments.mandate_revoked account=%s reference=%s", account, row.reference)
            return row.reference

    def of_account(self, account: str) -> list[Mandate]:
        """The account's mandates, the active one first, then the revoked, newest first."""
        with self.db.read_sessions() as s:
            rows = s.scalars(select(PaymentMandateRow)
                             .where(PaymentMandateRow.account == account)
                             .order_by(PaymentMandateRow.status,
                                       PaymentMandateRow.created_at.desc()))
            return [Mandate.of(row) for row in rows]

    def active(self, account: str) -> Mandate | None:
        with self.db.read_sessions() as s:
            return active_mandate(s, account)


def _check_account(account: str) -> None:
    """A postpaid account's name (its receivable is a ledger account); ad hoc payers pay by
    card."""
    if account.startswith("adhoc."):
        raise Invalid(f"account: {account!r} is an ad hoc payer's; it pays by card")
    try:
        ledger_accounts.receivable(account)
    except InvalidAccount as exc:
        raise Invalid(f"account: {exc}") from None


def _revoke(row: PaymentMandateRow, now: datetime) -> None:
    row.status, row.active_account, row.revoked_at, row.updated_at = "revoked", None, now, now
