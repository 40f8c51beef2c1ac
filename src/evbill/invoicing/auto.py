"""Automatic issuing: a receipt as soon as a card or wallet session is paid, a credit note for
every refund, driven by the payments hook (`PaymentListener`) and a catch-up pass that reads
the payment tables as the outbox, so a document a failed listener call left out is issued later.
Receipts carry the ledger proof of their payment (`evbill.invoicing.proofs`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, literal, select

from evbill.invoicing.model import DocumentError
from evbill.invoicing.service import InvoicingService
from evbill.invoicing.tables import DocumentRow
from evbill.payments.tables import PaymentChargeRow, PaymentRefundRow

__all__ = ["CatchUp", "DocumentIssuer"]

log = logging.getLogger(__name__)

#: Payment methods that get a receipt at once (postpaid sessions go on the monthly invoice).
RECEIPT_METHODS = ("card", "wallet")
#: Refund states a credit note documents (a pending card refund waits for its webhook).
CREDITED_REFUNDS = ("succeeded",)


@dataclass(frozen=True, slots=True)
class CatchUp:
    receipts: list[str]
    credit_notes: list[str]


class DocumentIssuer:
    """The `PaymentListener` that issues receipts and credit notes (idempotent by source key:
    a repeated event returns the document already issued)."""

    def __init__(self, invoicing: InvoicingService, clock: Callable[[], datetime]) -> None:
        self.invoicing = invoicing
        self.clock = clock

    def on_paid(self, reference: str) -> None:
        doc = self.invoicing.issue_receipt(reference, now=self.clock())
        log.info("invoice.auto_receipt reference=%s number=%s", reference, doc.number)

    def on_refunded(self, refund_id: str, reference: str) -> None:
        with self.invoicing.db.read_sessions() as s:
            refund = s.get(PaymentRefundRow, refund_id)
            status = None if refund is None else refund.status
        if status not in CREDITED_REFUNDS:
            log.info("invoice.credit_deferred refund_id=%s reference=%s status=%s",
                     refund_id, reference, status)
            return
        doc = self.invoicing.issue_credit_note(refund_id, now=self.clock())
        log.info("invoice.auto_credit_note refund_id=%s reference=%s number=%s",
                 refund_id, reference, doc.number)

    def catch_up(self, *, limit: int = 1000) -> CatchUp:
        """Issue what the listener missed: receipts of paid sessions, then credit notes of
        settled refunds whose session is on a document (postpaid ones wait for the invoice)."""
        receipts, credits = self._missing(limit)
        done_receipts = [r for r in receipts if self._try(self.on_paid, r)]
        done_credits = [rid for rid, ref in credits if self._try(self.on_refunded, rid, ref)]
        if done_receipts or done_credits:
            log.info("invoice.catch_up receipts=%d credit_notes=%d", len(done_receipts),
                     len(done_credits))
        return CatchUp(done_receipts, done_credits)

    def _missing(self, limit: int) -> tuple[list[str], list[tuple[str, str]]]:
        receipt_key = literal("receipt:").concat(PaymentChargeRow.reference)
        credit_key = literal("credit:").concat(PaymentRefundRow.id)
        with self.invoicing.db.read_sessions() as s:
            receipts = s.scalars(
                select(PaymentChargeRow.reference)
                .where(PaymentChargeRow.method.in_(RECEIPT_METHODS),
                       ~exists().where(DocumentRow.source_key == receipt_key))
                .order_by(PaymentChargeRow.created_at).limit(limit)).all()
            credits = s.execute(
                select(PaymentRefundRow.id, PaymentChargeRow.reference)
                .join(PaymentChargeRow, PaymentChargeRow.id == PaymentRefundRow.charge_id)
                .where(PaymentRefundRow.status.in_(CREDITED_REFUNDS),
                       ~exists().where(DocumentRow.source_key == credit_key))
                .order_by(PaymentRefundRow.created_at).limit(limit)).all()
        return list(receipts), [(rid, ref) for rid, ref in credits]

    @staticmethod
    def _try(issue: Callable[..., None], key: str, *more: str) -> bool:
        try:
            issue(key, *more)
        except DocumentError as exc:
            log.info("invoice.catch_up_skipped key=%s reason=%s", key, exc)
            return False
        return True
