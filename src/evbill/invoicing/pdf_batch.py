"""Bulk PDF rendering after the billing run: documents without a stored PDF, rendered in a
pool of processes (WeasyPrint is pure Python and single-threaded, so one process per core),
each loading and storing its documents in batches on its own database connection.

Every worker keeps one `InvoicingService` and WeasyPrint's font configuration for its whole
life; a batch is read in one transaction, rendered, and stored in one short write.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from sqlalchemy import select, update

from evbill.invoicing.cii import to_cii
from evbill.invoicing.pdf import render_pdf
from evbill.invoicing.proofs import is_pending
from evbill.invoicing.repository import load_document
from evbill.invoicing.service import InvoicingService
from evbill.invoicing.tables import DocumentRow
from evbill.store.database import Database

__all__ = ["BatchReport", "documents_without_pdf", "render_batch", "render_pdfs"]

log = logging.getLogger(__name__)

_worker: InvoicingService | None = None


@dataclass(frozen=True, slots=True)
class BatchReport:
    rendered: int
    seconds: float
    workers: int

    @property
    def per_second(self) -> float:
        return self.rendered / self.seconds if self.seconds else 0.0


def documents_without_pdf(db: Database, *, limit: int | None = None) -> list[str]:
    """Numbers of issued documents whose PDF is not stored yet, oldest first."""
    with db.read_sessions() as s:
        query = select(DocumentRow.number).where(DocumentRow.pdf.is_(None)).order_by(DocumentRow.id)
        return list(s.scalars(query if limit is None else query.limit(limit)))


def render_batch(service: InvoicingService, numbers: Sequence[str]) -> int:
    """Render and store the PDFs of `numbers` (skips stored ones and open-day receipts)."""
    with service.db.read_sessions() as s:
        rows = s.scalars(select(DocumentRow).where(DocumentRow.number.in_(numbers),
                                                   DocumentRow.pdf.is_(None),
                                                   DocumentRow.operator_id ==
                                                   service.settings.operator_id)).all()
        docs = [load_document(s, row) for row in rows]
    rendered: dict[str, bytes] = {}
    for doc in docs:
        doc = service.with_final_proof(doc)
        if is_pending(doc.proof):
            continue  # its stored copy waits for the day's Merkle root
        rendered[doc.number] = render_pdf(doc, xml=to_cii(doc))
    with service.db.sessions() as s:
        for number, data in rendered.items():
            s.execute(update(DocumentRow).where(
                DocumentRow.number == number, DocumentRow.pdf.is_(None),
                DocumentRow.operator_id == service.settings.operator_id).values(pdf=data))
        s.commit()
    return len(rendered)


def _init_worker(url: str, service_factory: Callable[[Database], InvoicingService]) -> None:
    global _worker
    _worker = service_factory(Database.open(url))


def _render_in_worker(numbers: list[str]) -> int:
    assert _worker is not None, "the pool initializer opens the service"
    return render_batch(_worker, numbers)


def _chunks(numbers: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(numbers), size):
        yield list(numbers[start:start + size])


def render_pdfs(
    url: str, numbers: Sequence[str], *, workers: int | None = None, batch: int = 8,
    service_factory: Callable[[Database], InvoicingService] = InvoicingService,
    progress: Callable[[int], None] | None = None,
) -> BatchReport:
    """Render `numbers` in `workers` processes (default: one per core)."""
    workers = max(1, workers or os.cpu_count() or 1)
    started = time.perf_counter()
    done = 0
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                             initargs=(url, service_factory)) as pool:
        for count in pool.map(_render_in_worker, _chunks(numbers, batch)):
            done += count
            if progress is not None:
                progress(count)
    report = BatchReport(done, time.perf_counter() - started, workers)
    log.info("invoice.pdf_batch rendered=%d seconds=%.1f workers=%d per_second=%.2f",
             report.rendered, report.seconds, workers, report.per_second)
    return report
