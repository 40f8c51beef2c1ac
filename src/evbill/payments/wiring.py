"""Building the session ↔ payment wiring from the environment, and the periodic sweep that
`evbill serve` runs beside the gateway."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from evbill.clock import utc_now
from evbill.invoicing.auto import DocumentIssuer
from evbill.invoicing.service import InvoicingService
from evbill.ledger.service import LedgerService
from evbill.ledger.store import sql_unit_of_work
from evbill.payments.config import build_provider
from evbill.payments.provider import PaymentProvider
from evbill.payments.service import PaymentService
from evbill.payments.session_billing import SessionBilling
from evbill.store.database import Database

__all__ = ["build_billing", "run_sweeper"]

log = logging.getLogger("evbill.payments")


def build_billing(db: Database, provider: PaymentProvider | None = None) -> SessionBilling:
    """`provider` (or the configured one, EVBILL_PAYMENT_PROVIDER) behind the session hooks."""
    # Receipts and credit notes are issued the moment a payment or refund is booked.
    issuer = DocumentIssuer(InvoicingService(db), utc_now)
    payments = PaymentService(db, provider or build_provider(), LedgerService(sql_unit_of_work(db)),
                              listeners=[issuer])
    return SessionBilling(db, payments)


async def run_sweeper(billing: SessionBilling, interval_s: float, stop: asyncio.Event) -> None:
    """Every `interval_s`: void unclaimed holds, release stale ones, settle what is due."""
    while not stop.is_set():
        try:
            report = await asyncio.to_thread(billing.sweep)
            if report.unclaimed or report.stale or report.settled:
                log.info("payments.sweep unclaimed=%d stale=%d settled=%d",
                         len(report.unclaimed), len(report.stale), len(report.settled))
        except Exception:  # a failed pass must not end the loop; it is logged and retried
            log.exception("payments.sweep_failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
