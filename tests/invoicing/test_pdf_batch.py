"""Bulk PDF rendering after the run: a pool of processes renders and stores every invoice's
PDF/A-3 Factur-X once (SQLite and PostgreSQL), and `evbill bill` renders them that way."""

from __future__ import annotations

import pytest
from facturx import get_xml_from_pdf  # type: ignore[import-untyped]
from sqlalchemy import select
from typer.testing import CliRunner

from evbill.cli import app
from evbill.invoicing.billing_run import invoices_without_pdf, prepare_run, work
from evbill.invoicing.cii import to_cii
from evbill.invoicing.compose import BillingPeriod
from evbill.invoicing.pdf_batch import documents_without_pdf, render_batch, render_pdfs
from evbill.invoicing.seed import SeedPlan, seed_month
from evbill.invoicing.service import InvoicingService
from evbill.invoicing.tables import DocumentRow
from evbill.store.database import Database

from .parallel_workers import NOW

OCTOBER = BillingPeriod(2026, 10)


def _issue_month(db: Database, accounts: int) -> InvoicingService:
    with db.sessions() as s:
        seed_month(s, SeedPlan(accounts=accounts, sessions_per_account=3), now=NOW)
        s.commit()
    service = InvoicingService(db)
    prepare_run(service, OCTOBER, now=NOW)
    work(service, OCTOBER, worker="w", now=lambda: NOW, pdf=False)
    return service


def test_pool_renders_and_stores_every_pdf_once(db: Database) -> None:
    service = _issue_month(db, accounts=3)
    numbers = invoices_without_pdf(service, OCTOBER)
    assert len(numbers) == 3 and documents_without_pdf(db) == numbers
    url = db.engine.url.render_as_string(hide_password=False)
    report = render_pdfs(url, numbers, workers=2, batch=2)
    assert report.rendered == 3 and report.workers == 2
    assert documents_without_pdf(db) == []
    with db.read_sessions() as s:
        stored = {n: p for n, p in s.execute(select(DocumentRow.number, DocumentRow.pdf))}
    for number in numbers:
        filename, xml = get_xml_from_pdf(stored[number], check_xsd=True)
        assert filename == "factur-x.xml" and xml == to_cii(service.find(number))
    assert render_batch(service, numbers) == 0  # stored PDFs are never rendered again
    assert service.pdf(numbers[0]) == stored[numbers[0]]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # one backend suffices
def test_bill_renders_the_pdfs_after_the_run(db: Database) -> None:
    with db.sessions() as s:
        seed_month(s, SeedPlan(accounts=2, sessions_per_account=2), now=NOW)
        s.commit()
    url = db.engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(app, ["bill", "--period", "2026-10", "--pdf-workers", "1",
                                      "--database", url])
    assert result.exit_code == 0, result.output
    assert "issued_by_this_run: 2" in result.stdout and "pdfs_rendered: 2" in result.stdout
    assert documents_without_pdf(db) == []
