"""Issuing with the store (SQLite and PostgreSQL): receipts, monthly runs, credit notes,
idempotency, reruns, and documents that add up to what the payments side charged."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest
from sqlalchemy import func, select

from evbill.invoicing.billing_run import prepare_run, run_status, work
from evbill.invoicing.compose import BillingPeriod
from evbill.invoicing.model import DocumentError, DocumentType
from evbill.invoicing.seed import SeedPlan, seed_month
from evbill.invoicing.service import DocumentNotFound, InvoicingService
from evbill.invoicing.settings import InvoicingSettings
from evbill.invoicing.tables import DocumentRow
from evbill.payments.tables import PaymentChargeRow, PaymentRefundRow
from evbill.store.database import Database

from .factories import CUSTOMER

NOW = datetime(2026, 11, 1, 5, 0, tzinfo=UTC)
OCTOBER = BillingPeriod(2026, 10)
SETTINGS = InvoicingSettings(issuer_name="Voltway Charging GmbH", issuer_vat_id="DE123456789",
                             issuer_iban="DE02120300000000202051")  # fmt: skip


@pytest.fixture
def service(db: Database) -> Iterator[InvoicingService]:
    yield InvoicingService(db, SETTINGS)


def _seed(db: Database, plan: SeedPlan) -> None:
    with db.sessions() as s:
        seed_month(s, plan, now=NOW)
        s.commit()


def _charged(db: Database) -> dict[str, Decimal]:
    """Net charged per account (the seed charges everything at 19 %)."""
    with db.read_sessions() as s:
        rows = s.execute(select(PaymentChargeRow.account, func.count(), PaymentChargeRow.net)
                         .group_by(PaymentChargeRow.account, PaymentChargeRow.net)).all()
        totals: dict[str, Decimal] = {}
        for account, count, net in rows:
            totals[account] = totals.get(account, Decimal(0)) + Decimal(net) * count
        return totals


def test_monthly_run_issues_one_invoice_per_account_and_reruns_add_nothing(
    db: Database, service: InvoicingService
) -> None:
    _seed(db, SeedPlan(accounts=3, sessions_per_account=4))
    service.set_customer("acct-000001", CUSTOMER, now=NOW)
    assert prepare_run(service, OCTOBER, now=NOW) == 3
    report = work(service, OCTOBER, worker="w1", now=lambda: NOW, pdf=False)
    assert report.issued == ["INV-2026-000001", "INV-2026-000002", "INV-2026-000003"]
    charged = _charged(db)
    for number in report.issued:
        doc = service.find(number)
        assert doc.doc_type is DocumentType.INVOICE and len(doc.sessions) == 4
        # the documents and payments agree on the net; VAT is 19 % of it, rounded once
        assert doc.totals.net == charged[doc.account_id]
        assert doc.totals.vat == (doc.totals.net * 19 / 100).quantize(Decimal("0.01"),
                                                                       ROUND_HALF_UP)
    assert service.find("INV-2026-000002").customer.name == CUSTOMER.name

    assert prepare_run(service, OCTOBER, now=NOW) == 3  # a rerun: same items, all done
    again = work(service, OCTOBER, worker="w2", now=lambda: NOW, pdf=False)
    assert again.issued == [] and again.failed == 0
    assert service.issue_invoice("acct-000000", "EUR", OCTOBER, now=NOW).number == (
        "INV-2026-000001")  # fmt: skip
    status = run_status(service, OCTOBER)
    assert (status.items, status.done, status.pending, status.without_pdf) == (3, 3, 0, 3)


def test_interrupted_run_resumes_without_gap_or_duplicate(
    db: Database, service: InvoicingService
) -> None:
    _seed(db, SeedPlan(accounts=5, sessions_per_account=2))
    prepare_run(service, OCTOBER, now=NOW)
    first = work(service, OCTOBER, worker="w1", now=lambda: NOW, pdf=False, limit=2)
    assert len(first.issued) == 2 and run_status(service, OCTOBER).pending == 3
    rest = work(service, OCTOBER, worker="w2", now=lambda: NOW, pdf=True)
    numbers = first.issued + rest.issued
    assert numbers == [f"INV-2026-{n:06d}" for n in range(1, 6)]
    assert rest.pdfs == 5  # its own three, and the two the first worker left unrendered
    assert run_status(service, OCTOBER).without_pdf == 0
    assert service.pdf(numbers[0]).startswith(b"%PDF-")


def test_next_month_bills_only_what_is_new(db: Database, service: InvoicingService) -> None:
    _seed(db, SeedPlan(accounts=2, sessions_per_account=2))
    prepare_run(service, OCTOBER, now=NOW)
    work(service, OCTOBER, worker="w", now=lambda: NOW, pdf=False)
    november = BillingPeriod(2026, 11)
    assert prepare_run(service, november, now=NOW) == 0  # everything is on October's invoices
    _seed(db, SeedPlan(accounts=1, sessions_per_account=3, month=11, first_account=7))
    assert prepare_run(service, november, now=NOW) == 1
    report = work(service, november, worker="w", now=lambda: NOW, pdf=False)
    doc = service.find(report.issued[0])
    assert (doc.account_id, len(doc.sessions)) == ("acct-000007", 3)


def test_receipt_and_credit_note(db: Database, service: InvoicingService) -> None:
    _seed(db, SeedPlan(accounts=1, sessions_per_account=2, method="card"))
    receipt = service.issue_receipt("CDR-000000001", now=NOW)
    assert receipt.number == "RCT-2026-000001" and receipt.paid
    assert receipt.sessions[0].signed_meter is False  # session 0 of the seed: plain meter
    assert service.issue_receipt("CDR-000000001", now=NOW) == receipt  # idempotent
    assert service.issue_receipt("CDR-000000002", now=NOW).number == "RCT-2026-000002"
    with db.sessions() as s:
        s.add(PaymentRefundRow(id="rf-1", idempotency_key="k1", charge_id="ch-1",
                               amount=Decimal("2.00"), currency="EUR", status="succeeded",
                               reason="EVSE fault", actor="ops", created_at=NOW))
        s.commit()
    credit = service.issue_credit_note("rf-1", now=NOW)
    assert credit.number == "CRN-2026-000001"
    assert (credit.corrects_number, credit.totals.gross) == ("RCT-2026-000001", Decimal("2.00"))
    assert service.issue_credit_note("rf-1", now=NOW) == credit
    with pytest.raises(DocumentNotFound, match="refund"):
        service.issue_credit_note("nope", now=NOW)
    with pytest.raises(DocumentNotFound, match="INV-2099"):
        service.find("INV-2099-000001")


def test_postpaid_sessions_get_no_receipt(db: Database, service: InvoicingService) -> None:
    _seed(db, SeedPlan(accounts=1, sessions_per_account=1))
    with pytest.raises(DocumentError, match="monthly invoice"):
        service.issue_receipt("CDR-000000001", now=NOW)


def test_stored_document_reads_back_exactly(db: Database, service: InvoicingService) -> None:
    _seed(db, SeedPlan(accounts=1, sessions_per_account=3))
    doc = service.issue_invoice("acct-000000", "EUR", OCTOBER, now=NOW)
    assert doc is not None
    assert service.find(doc.number) == doc
    with db.read_sessions() as s:
        row = s.execute(select(DocumentRow)).scalar_one()
        assert isinstance(row.total_gross, Decimal) and row.total_gross == doc.totals.gross
