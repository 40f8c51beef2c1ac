"""Capturing a session's price, and the dunning queue for captures that keep failing.

Every attempt, first or retried by the operator, uses the same idempotency key
(`<reference>:capture`), so a capture that did go through before its answer was lost is
answered from the provider's record instead of charging twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from evbill.ledger import postings
from evbill.money import Money
from evbill.payments.context import PaymentContext, log
from evbill.payments.events import notify_paid
from evbill.payments.model import PaymentStateError, SessionCharge, split_refund
from evbill.payments.provider import AuthorizationExpired, Capture, ProviderError
from evbill.payments.tables import PaymentAuthorizationRow, PaymentChargeRow, PaymentDunningRow

__all__ = ["Dunning", "DunningItem"]


@dataclass(frozen=True, slots=True)
class DunningItem:
    """One entry of the operator's dunning queue."""

    id: str
    reference: str
    amount: Money
    attempts: int
    last_error: str
    status: str
    next_attempt_at: datetime | None


class Dunning:
    def __init__(self, ctx: PaymentContext) -> None:
        self.ctx = ctx

    def capture_or_queue(self, row: PaymentAuthorizationRow, charge: SessionCharge) -> str:
        """Capture; on a provider failure (after retries) queue it. `captured` | `dunning`."""
        error = self._attempt(row, charge)
        if error is None:
            return "captured"
        now = self.ctx.clock()
        item = PaymentDunningRow(
            id=self.ctx.ids("dun"), authorization_id=row.id, reference=row.reference,
            amount=charge.gross.amount, currency=charge.gross.currency, charge=charge.to_json(),
            attempts=1, last_error=error, status="open",
            next_attempt_at=now + self.ctx.settings.dunning_retry_after, created_at=now,
            updated_at=now,
        )
        row.status, row.updated_at = "capture_failed", now
        with self.ctx.session() as s:
            s.merge(row)
            s.add(item)
            self.ctx.audit(s, "dunning_opened", row.reference, "system", error=error,
                           amount=charge.gross)
            s.commit()
        log.warning("payments.capture_failed reference=%s dunning=%s error=%s",
                    row.reference, item.id, error)
        return "dunning"

    def retry(self, dunning_id: str, *, actor: str) -> str:
        """Try an open item's capture again. Returns its status afterwards."""
        with self.ctx.read() as r:
            item = r.get(PaymentDunningRow, dunning_id)
            if item is None:
                raise PaymentStateError(f"dunning_id: {dunning_id!r} is unknown")
            hold = r.get(PaymentAuthorizationRow, item.authorization_id)
        assert hold is not None  # foreign key
        if item.status != "open":
            return item.status
        error = self._attempt(hold, SessionCharge.from_json(item.charge))
        now = self.ctx.clock()
        item.attempts, item.updated_at = item.attempts + 1, now
        if error is None:
            item.status, item.next_attempt_at = "resolved", None
        else:
            item.last_error = error
            item.next_attempt_at = now + self.ctx.settings.dunning_retry_after
        self.ctx.save(item, ("dunning_retry", item.reference, actor,
                             {"attempt": item.attempts, "outcome": error or "captured"}))
        return item.status

    def close(self, dunning_id: str, status: str, *, actor: str, reason: str) -> PaymentDunningRow:
        with self.ctx.read() as r:
            item = r.get(PaymentDunningRow, dunning_id)
        if item is None or item.status != "open":
            raise PaymentStateError(f"dunning_id: {dunning_id!r} is not an open item")
        item.status, item.updated_at = status, self.ctx.clock()
        self.ctx.save(item, ("dunning_" + status, item.reference, actor, {"reason": reason}))
        return item

    def queue(self, *, status: str = "open") -> list[DunningItem]:
        with self.ctx.read() as r:
            rows = r.scalars(select(PaymentDunningRow).where(PaymentDunningRow.status == status)
                             .order_by(PaymentDunningRow.created_at)).all()
        return [DunningItem(d.id, d.reference, Money(d.amount, d.currency), d.attempts,
                            d.last_error, d.status, d.next_attempt_at) for d in rows]

    # --- one capture attempt ---------------------------------------------------------------
    def _attempt(self, row: PaymentAuthorizationRow, charge: SessionCharge) -> str | None:
        """Capture and book it; the error text if the provider failed."""
        held = Money(row.amount_held, row.currency)
        amount = min(charge.gross, held)
        try:
            capture = self.ctx.provider.capture(row.provider_ref, amount,
                                                f"{row.reference}:capture")
        except (ProviderError, AuthorizationExpired) as exc:
            return f"{type(exc).__name__}: {exc}"
        self._book(row, charge, capture, held)
        return None

    def _book(self, row: PaymentAuthorizationRow, charge: SessionCharge, capture: Capture,
              held: Money) -> None:
        gross = charge.gross
        net, vat = split_refund(charge.net, charge.vat, gross, capture.amount)
        txn = self.ctx.post(
            f"payments:capture:{row.provider_ref}", row.reference,
            lambda m: postings.capture(m, row.provider, charge.operator, net, vat, held=held))
        now = self.ctx.clock()
        booked = PaymentChargeRow(
            id=self.ctx.ids("chg"), reference=row.reference, method="card", account=row.account,
            operator=charge.operator, currency=gross.currency, net=net.amount,
            vat=SessionCharge(row.reference, charge.operator, net, vat).vat_json(),
            gross=capture.amount.amount, refunded=Decimal(0), authorization_id=row.id,
            provider_capture_ref=capture.id, released=capture.released.amount,
            status="captured", ledger_transaction=txn, created_at=now, updated_at=now,
        )
        row.status, row.updated_at = "captured", now
        audit = [("capture", row.reference, "system",
                  {"amount": capture.amount, "released": capture.released})]
        if capture.amount < gross:
            audit.append(("shortfall", row.reference, "system",
                          {"priced": gross, "captured": capture.amount}))
        with self.ctx.session() as s:
            s.merge(row)
            if s.scalar(select(PaymentChargeRow.id)
                        .where(PaymentChargeRow.reference == row.reference)) is None:
                s.add(booked)
            for action, reference, actor, detail in audit:
                self.ctx.audit(s, action, reference, actor, **detail)
            s.commit()
        notify_paid(self.ctx.listeners, row.reference)
