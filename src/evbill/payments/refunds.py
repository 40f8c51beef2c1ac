"""Refunds, full or partial, of any paid session: back to the card, the wallet or the account,
never more than was paid in total, each with its ledger posting and an audit line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from evbill.ledger import accounts, postings
from evbill.money import Money
from evbill.payments.context import PaymentContext
from evbill.payments.events import notify_refunded
from evbill.payments.model import ChargeNotFound, split_refund, vat_from_json
from evbill.payments.provider import RefundExceedsCaptured
from evbill.payments.tables import PaymentChargeRow, PaymentRefundRow
from evbill.payments.wallets import WalletPayments

__all__ = ["RefundResult", "Refunds"]

log = logging.getLogger("evbill.payments")


@dataclass(frozen=True, slots=True)
class RefundResult:
    id: str
    reference: str
    amount: Money
    method: str
    status: str
    created_at: datetime


class Refunds:
    def __init__(self, ctx: PaymentContext, wallets: WalletPayments) -> None:
        self.ctx = ctx
        self.wallets = wallets

    def refund(
        self, reference: str, amount: Money | None, *, reason: str, actor: str, key: str
    ) -> RefundResult:
        """Refund `amount` (None: everything not yet refunded) of the session `reference`."""
        with self.ctx.read() as r:
            done = r.scalar(select(PaymentRefundRow)
                            .where(PaymentRefundRow.idempotency_key == key))
            charge = r.scalar(select(PaymentChargeRow)
                              .where(PaymentChargeRow.reference == reference))
        if charge is None:
            raise ChargeNotFound(f"reference: no paid session {reference!r}")
        if done is not None:
            return _result(done, charge)
        gross = Money(charge.gross, charge.currency)
        remaining = gross - Money(charge.refunded, charge.currency)
        amount = remaining if amount is None else amount
        if amount.amount <= 0 or amount > remaining:
            raise RefundExceedsCaptured(
                f"amount: {amount} is not within what is left to refund ({remaining}) "
                f"of {reference!r}")
        provider_ref, to_account, status = self._give_back(charge, amount, key)
        net, vat = split_refund(Money(charge.net, charge.currency),
                                vat_from_json(charge.vat, charge.currency), gross, amount)
        txn = self.ctx.post(
            f"payments:refund:{key}", reference,
            lambda m: postings.refund(m, charge.operator, net, vat, to_account=to_account))
        row = PaymentRefundRow(
            id=self.ctx.ids("ref"), idempotency_key=key, charge_id=charge.id,
            provider_ref=provider_ref, amount=amount.amount, currency=amount.currency,
            status=status, reason=reason,
            actor=actor, ledger_transaction=txn, created_at=self.ctx.clock())
        with self.ctx.session() as s:
            stored = s.get(PaymentChargeRow, charge.id, with_for_update=True)
            assert stored is not None
            if stored.refunded + amount.amount > stored.gross:
                # A concurrent refund of the same session committed after our first read: ours
                # would pay back more than was paid. The ledger never loses a posting, so the
                # refund posted above is corrected by its reversal, and nothing else is kept.
                s.rollback()
                self.ctx.ledger.reverse(txn, occurred_at=self.ctx.clock(),
                                        idempotency_key=f"payments:refund:{key}:superseded")
                log.warning("payments.refund_superseded reference=%s key=%s amount=%s",
                            reference, key, amount)
                raise RefundExceedsCaptured(
                    f"amount: {amount} is more than is left to refund of {reference!r} after "
                    "a concurrent refund")
            stored.refunded = stored.refunded + amount.amount
            stored.updated_at = self.ctx.clock()
            if charge.method == "wallet":
                self.wallets.credit_refund(s, charge.account, amount, f"{key}:wallet", reference)
            s.add(row)
            self.ctx.audit(s, "refund", reference, actor, amount=amount, reason=reason,
                           method=charge.method)
            s.commit()
        notify_refunded(self.ctx.listeners, row.id, reference)
        return _result(row, charge)

    def _give_back(self, charge: PaymentChargeRow, amount: Money, key: str) -> tuple[
            str | None, str, str]:
        """Move the money back: (provider refund id, ledger account credited, status)."""
        if charge.method == "card":
            assert charge.provider_capture_ref is not None
            refund = self.ctx.provider.refund(charge.provider_capture_ref, amount, key)
            return refund.id, accounts.provider_clearing(self.ctx.provider.name), refund.status
        if charge.method == "wallet":
            return None, accounts.wallet(charge.account), "succeeded"
        return None, accounts.receivable(charge.account), "succeeded"

    def refunds_of(self, reference: str) -> list[RefundResult]:
        with self.ctx.read() as r:
            charge = r.scalar(select(PaymentChargeRow)
                              .where(PaymentChargeRow.reference == reference))
            if charge is None:
                return []
            rows = r.scalars(select(PaymentRefundRow).where(PaymentRefundRow.charge_id ==
                                                            charge.id)
                             .order_by(PaymentRefundRow.created_at)).all()
        return [_result(row, charge) for row in rows]


def _result(row: PaymentRefundRow, charge: PaymentChargeRow) -> RefundResult:
    return RefundResult(row.id, charge.reference, Money(row.amount, row.currency),
                        charge.method, row.status, row.created_at)
