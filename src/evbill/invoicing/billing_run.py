"""Monthly billing runs: one item per postpaid account and currency, claimed by any number of
workers (`SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL), each issued in its own transaction.

The item and its invoice commit together, so an interrupted run loses nothing and a rerun
duplicates nothing: done items stay done, pending ones are picked up, and the invoice's
unique source key (account + period + currency) backs that up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from evbill.invoicing.compose import BillingPeriod
from evbill.invoicing.model import DocumentError
from evbill.invoicing.service import InvoicingService
from evbill.invoicing.sources import postpaid_accounts
from evbill.invoicing.tables import BillingRunItemRow, BillingRunRow, DocumentRow

__all__ = ["RunStatus", "WorkerReport", "prepare_run", "run_status", "work"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunStatus:
    period: str
    items: int
    done: int
    failed: int
    pending: int
    without_pdf: int


@dataclass(slots=True)
class WorkerReport:
    worker: str
    issued: list[str] = field(default_factory=list)
    empty: int = 0
    failed: int = 0
    pdfs: int = 0


def prepare_run(service: InvoicingService, period: BillingPeriod, *, now: datetime) -> int:
    """Create the run and an item for every postpaid account+currency (again: adds new ones)."""
    with service.db.sessions() as s:
        if s.get(BillingRunRow, str(period)) is None:
            s.add(BillingRunRow(period=str(period), created_at=now, items=0))
            s.flush()
        rows = [{"period": str(period), "account_id": account, "currency": currency,
                 "status": "pending"} for account, currency in postpaid_accounts(s)]  # fmt: skip
        if rows:
            s.execute(_insert_ignore(s).values(rows))
        count = s.execute(select(func.count()).select_from(BillingRunItemRow)
                          .where(BillingRunItemRow.period == str(period))).scalar_one()
        run = s.get(BillingRunRow, str(period))
        assert run is not None
        run.items = count
        s.commit()
    log.info("billing.prepared period=%s items=%d", period, count)
    return int(count)


def _insert_ignore(s: Session) -> postgresql.Insert | sqlite.Insert:
    if s.get_bind().dialect.name == "postgresql":
        return postgresql.insert(BillingRunItemRow).on_conflict_do_nothing()
    return sqlite.insert(BillingRunItemRow).on_conflict_do_nothing()


def _claim(s: Session, period: BillingPeriod) -> BillingRunItemRow | None:
    query = (select(BillingRunItemRow)
             .where(BillingRunItemRow.period == str(period),
                    BillingRunItemRow.status == "pending")
             .order_by(BillingRunItemRow.id).limit(1)
             .with_for_update(skip_locked=True))  # fmt: skip
    return s.execute(query).scalar_one_or_none()


def _issue_one(service: InvoicingService, period: BillingPeriod, worker: str,
               now: Callable[[], datetime], report: WorkerReport) -> str | bool | None:  # fmt: skip
    """Claim and bill one item. False: nothing left; None: nothing to bill; else the number."""
    with service.db.sessions() as s:
        item = _claim(s, period)
        if item is None:
            return False
        at, item_id = now(), item.id  # read before a rollback expires the row
        try:
            doc = service.issue_invoice_in(s, item.account_id, item.currency, period, at)
        except DocumentError as exc:
            s.rollback()  # touching `item` now would begin a new write transaction (SQLite:
            _fail(service, item_id, worker, str(exc), at)  # the lock `_fail` then waits for)
            report.failed += 1
            return None
        item.status, item.worker, item.finished_at = "done", worker, at
        item.document_number = doc.number if doc else None
        s.commit()
    if doc is None:
        report.empty += 1
        return None
    report.issued.append(doc.number)
    return doc.number


def _fail(service: InvoicingService, item_id: int, worker: str, error: str, at: datetime) -> None:
    log.warning("billing.item_failed item=%d worker=%s error=%s", item_id, worker, error)
    with service.db.sessions() as s:
        item = s.get(BillingRunItemRow, item_id)
        if item is not None and item.status == "pending":
            item.status, item.worker, item.error, item.finished_at = "failed", worker, error, at
            s.commit()


def work(
    service: InvoicingService, period: BillingPeriod, *, worker: str,
    now: Callable[[], datetime], pdf: bool = True,
    progress: Callable[[str | None], None] | None = None, limit: int | None = None,
) -> WorkerReport:
    """Bill pending items until none is left (or `limit`), rendering PDFs after each commit."""
    report = WorkerReport(worker)
    while limit is None or len(report.issued) + report.empty + report.failed < limit:
        number = _issue_one(service, period, worker, now, report)
        if number is False:
            break
        if pdf and isinstance(number, str):
            service.pdf(number)
            report.pdfs += 1
        if progress is not None:
            progress(number if isinstance(number, str) else None)
    if pdf and limit is None:
        report.pdfs += _render_missing(service, period)
    log.info("billing.worker_done worker=%s period=%s issued=%d empty=%d failed=%d",
             worker, period, len(report.issued), report.empty, report.failed)  # fmt: skip
    return report


def invoices_without_pdf(service: InvoicingService, period: BillingPeriod) -> list[str]:
    """The run's invoices whose PDF is not stored yet (for bulk rendering after the run)."""
    with service.db.read_sessions() as s:
        return list(s.execute(
            select(DocumentRow.number).join(BillingRunItemRow,
                                            BillingRunItemRow.document_number == DocumentRow.number)
            .where(BillingRunItemRow.period == str(period), DocumentRow.pdf.is_(None))
            .order_by(DocumentRow.id)
        ).scalars())  # fmt: skip


def _render_missing(service: InvoicingService, period: BillingPeriod) -> int:
    """PDFs an interrupted run committed the invoice for but never rendered."""
    numbers = invoices_without_pdf(service, period)
    for number in numbers:
        service.pdf(number)
    return len(numbers)


def run_status(service: InvoicingService, period: BillingPeriod) -> RunStatus:
    with service.db.read_sessions() as s:
        counts: dict[str, int] = {
            status: int(count) for status, count in s.execute(
                select(BillingRunItemRow.status, func.count())
                .where(BillingRunItemRow.period == str(period))
                .group_by(BillingRunItemRow.status))
        }  # fmt: skip
        without_pdf = s.execute(
            select(func.count()).select_from(DocumentRow)
            .join(BillingRunItemRow, BillingRunItemRow.document_number == DocumentRow.number)
            .where(BillingRunItemRow.period == str(period), DocumentRow.pdf.is_(None))
        ).scalar_one()  # fmt: skip
    total = sum(counts.values())
    return RunStatus(str(period), total, counts.get("done", 0), counts.get("failed", 0),
                     counts.get("pending", 0), int(without_pdf))  # fmt: skip
