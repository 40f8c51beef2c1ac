"""Worker processes for the concurrency tests (module-level so `spawn` can import them)."""

from __future__ import annotations

from datetime import UTC, datetime

from evbill.invoicing.billing_run import work
from evbill.invoicing.compose import BillingPeriod
from evbill.invoicing.model import DocumentType
from evbill.invoicing.numbering import SeriesKey
from evbill.invoicing.repository import next_number
from evbill.invoicing.service import InvoicingService
from evbill.store.database import Database

NOW = datetime(2026, 11, 1, 5, 0, tzinfo=UTC)


def issue_receipts(url: str, references: list[str], abort_every: int) -> list[str]:
    """Issue receipts; every `abort_every`-th time also draw a number and roll back."""
    db = Database.open(url)
    service = InvoicingService(db)
    numbers = []
    try:
        for n, reference in enumerate(references):
            if abort_every and n % abort_every == 0:
                with db.sessions() as s:  # a failed issue: the number goes back
                    next_number(s, SeriesKey(service.settings.operator_id,
                                             DocumentType.RECEIPT, 2026))  # fmt: skip
                    s.rollback()
            numbers.append(service.issue_receipt(reference, now=NOW).number)
    finally:
        db.dispose()
    return numbers


def run_worker(url: str, name: str) -> list[str]:
    db = Database.open(url)
    try:
        report = work(InvoicingService(db), BillingPeriod(2026, 10), worker=name,
                      now=lambda: NOW, pdf=False)  # fmt: skip
    finally:
        db.dispose()
    return report.issued
