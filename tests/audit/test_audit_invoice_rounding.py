"""An invoice over many small postpaid sessions, where per-session VAT rounding drifts:
120 sessions of a 0.50 flat fee at 19 % were each charged and booked with 0.095 → 0.10 VAT
(12.00 in all), while the invoice takes 19 % of the 60.00 net once (11.40, EN 16931 BR-CO-17).
Issuing the invoice books the difference (VAT rounding adjustment) once, so the customer's
receivable is exactly the invoice's gross and the VAT payable exactly its VAT; the audit is
clean, and a missing adjustment or a changed invoice VAT is reported per document and rate.
Sessions are charged through the real payment service and billed by the billing run, on
SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Final

import pytest
from lxml import etree
from sqlalchemy import select, text, update
from tampering import attacker

from evbill.audit.reader import AuditPeriod, run_audit
from evbill.invoicing.billing_run import prepare_run, work
from evbill.invoicing.cii import to_cii
from evbill.invoicing.compose import BillingPeriod, payment_split
from evbill.invoicing.model import Document
from evbill.invoicing.seed import SeedPlan, seed_month
from evbill.invoicing.service import InvoicingService
from evbill.invoicing.settings import InvoicingSettings
from evbill.invoicing.sources import charged_session
from evbill.invoicing.ubl import to_ubl
from evbill.invoicing.vat import round_minor
from evbill.ledger import accounts
from evbill.ledger.postings import VatLine
from evbill.ledger.service import LedgerService
from evbill.ledger.store import sql_unit_of_work
from evbill.ledger.tables import EntryRow, TransactionRow
from evbill.money import Money
from evbill.payments.model import SessionCharge
from evbill.payments.providers.sandbox import SandboxProvider
from evbill.payments.service import PaymentService
from evbill.store.database import Database
from evbill.store.tables import CdrRow

NOW: Final = datetime(2026, 11, 1, 5, 0, tzinfo=UTC)
OCTOBER: Final = BillingPeriod(2026, 10)
ACCOUNT: Final = "acct-000000"
SESSIONS: Final = 120
VAT_ACCOUNT: Final = accounts.vat_payable("DE", "19")


def _flat_fee_month(db: Database, fee: Decimal) -> list[str]:
    """SESSIONS sessions of ACCOUNT whose CDR costs only a flat `fee` excl. VAT at 19 %."""
    with db.sessions() as s:
        seed_month(s, SeedPlan(accounts=1, sessions_per_account=SESSIONS, charges=False),
                   now=NOW)  # fmt: skip
        for cdr in s.execute(select(CdrRow)).scalars():
            data = json.loads(cdr.ocpi_json)
            for field in ("total_energy_cost", "total_time_cost", "total_parking_cost"):
                data.pop(field)
            data["tariffs"] = [{**data["tariffs"][0], "elements": [{"price_components": [
                {"type": "FLAT", "price": f"{fee}", "vat": "19", "step_size": 1}]}]}]
            data["total_fixed_cost"] = {"excl_vat": f"{fee}",
                                        "incl_vat": f"{fee * Decimal('1.19')}"}
            s.execute(update(CdrRow).where(CdrRow.id == cdr.id).values(
                ocpi_json=json.dumps(data), total_cost_excl_vat=fee))  # fmt: skip
        s.commit()
        return list(s.execute(select(CdrRow.id).order_by(CdrRow.id)).scalars())


def _charge_and_bill(db: Database, fee: Decimal) -> tuple[LedgerService, Document]:
    """Charge every session through payments (postpaid), run the month's billing."""
    settings = InvoicingSettings()
    invoicing = InvoicingService(db, settings)
    ledger = LedgerService(sql_unit_of_work(db))
    payments = PaymentService(db, SandboxProvider(namespace="t", webhook_secret="whsec_t"),
                              ledger, clock=lambda: NOW)  # fmt: skip
    for reference in _flat_fee_month(db, fee):
        with db.read_sessions() as s:
            session = charged_session(s, reference, country="DE")
        net, vat = payment_split(session, settings.vat_table())
        assert net == fee
        payments.post_to_account(ACCOUNT, SessionCharge(
            reference, settings.operator_id, Money(net, "EUR"),
            tuple(VatLine(c, r, Money(v, "EUR")) for c, r, v in vat)))  # fmt: skip
    prepare_run(invoicing, OCTOBER, now=NOW)
    [number] = work(invoicing, OCTOBER, worker="w", now=lambda: NOW, pdf=False).issued
    return ledger, invoicing.find(number)


def _balances(ledger: LedgerService) -> dict[str, Decimal]:
    return {line.account: line.balance for line in ledger.trial_balance().lines
            if line.currency == "EUR"}  # fmt: skip


def _rounding_entries(db: Database) -> list[tuple[str, str, str, Decimal]]:
    with db.read_sessions() as s:
        return [(key, reference, account, Decimal(amount)) for key, reference, account, amount
                in s.execute(select(TransactionRow.idempotency_key, TransactionRow.reference,
                                    EntryRow.account, EntryRow.amount)
                             .join(EntryRow, EntryRow.transaction_id == TransactionRow.id)
                             .where(TransactionRow.kind == "vat_rounding")
                             .order_by(EntryRow.seq))]  # fmt: skip


def _xml_amount(xml: bytes, path: str) -> Decimal:
    [value] = etree.fromstring(xml).xpath(path)
    return Decimal(value.text)


@pytest.mark.parametrize(("fee", "charged_vat", "invoice_vat"), [
    ("0.50", "12.00", "11.40"),  # 0.095 → 0.10 per session: the invoice gives 0.60 back
    ("0.55", "12.00", "12.54"),  # 0.1045 → 0.10 per session: the invoice asks 0.54 more
])  # fmt: skip
def test_the_receivable_is_the_invoice_gross_and_the_audit_is_clean(
        db: Database, fee: str, charged_vat: str, invoice_vat: str) -> None:
    ledger, doc = _charge_and_bill(db, Decimal(fee))
    net = Decimal(fee) * SESSIONS
    assert (doc.totals.net, doc.totals.vat) == (net, Decimal(invoice_vat))
    assert doc.totals.vat == round_minor(net * Decimal("0.19"), "EUR")  # BR-CO-17, once
    assert [(v.rate, v.taxable, v.vat) for v in doc.totals.by_rate] == [
        (Decimal(19), net, Decimal(invoice_vat))]
    # the per-line VAT shown is the shared-out amount: lines add up to the subtotal exactly
    assert sum((line.vat for line in doc.lines), Decimal(0)) == doc.totals.vat
    assert sum((line.gross for line in doc.lines), Decimal(0)) == doc.totals.gross

    # the ledger: receivable = the invoice's gross, VAT payable = the invoice's VAT
    balances = _balances(ledger)
    assert balances[accounts.receivable(ACCOUNT)] == doc.totals.gross
    assert -balances[VAT_ACCOUNT] == doc.totals.vat
    assert ledger.trial_balance().balanced
    difference = Decimal(invoice_vat) - Decimal(charged_vat)
    assert _rounding_entries(db) == [
        (f"invoicing:vat_rounding:{doc.source_key}", doc.number, VAT_ACCOUNT, -difference),
        (f"invoicing:vat_rounding:{doc.source_key}", doc.number,
         accounts.receivable(ACCOUNT), difference)]  # fmt: skip

    # the CII and UBL state what the document and the ledger hold
    cii, ubl = to_cii(doc), to_ubl(doc)
    assert _xml_amount(cii, "//*[local-name()='TaxTotalAmount']") == doc.totals.vat
    assert _xml_amount(cii, "//*[local-name()='GrandTotalAmount']") == doc.totals.gross
    assert _xml_amount(ubl, "/*/*[local-name()='TaxTotal']/*[local-name()='TaxAmount']"
                       ) == doc.totals.vat  # fmt: skip
    assert _xml_amount(ubl, "//*[local-name()='TaxInclusiveAmount']") == doc.totals.gross

    # issuing again (service, billing run) returns the invoice and books nothing twice
    invoicing = InvoicingService(db, InvoicingSettings())
    assert invoicing.issue_invoice(ACCOUNT, "EUR", OCTOBER, now=NOW) == doc
    prepare_run(invoicing, OCTOBER, now=NOW)
    assert work(invoicing, OCTOBER, worker="w2", now=lambda: NOW, pdf=False).issued == []
    assert len(_rounding_entries(db)) == 2
    assert _balances(ledger)[accounts.receivable(ACCOUNT)] == doc.totals.gross

    report = run_audit(db)
    assert report.ok, [str(m) for m in report.mismatches]
    # SESSIONS postpaid charges and the one rounding adjustment
    assert (report.sessions, report.payments, report.documents, report.postings) == (
        SESSIONS, SESSIONS, 1, SESSIONS + 1)
    assert run_audit(db, AuditPeriod(2026, 10)).ok


def test_a_missing_adjustment_is_reported_per_document_and_rate(db: Database) -> None:
    _, doc = _charge_and_bill(db, Decimal("0.50"))
    with attacker(db) as conn:
        txn = conn.execute(text("SELECT id FROM ledger_transactions WHERE kind = 'vat_rounding'")
                           ).scalar_one()  # fmt: skip
        conn.execute(text("DELETE FROM ledger_entries WHERE transaction_id = :t"), {"t": txn})
        conn.execute(text("DELETE FROM ledger_transactions WHERE id = :t"), {"t": txn})
    assert [str(m) for m in run_audit(db).mismatches] == [
        f"document {doc.number} EUR VAT 19%: documented 11.40, charged 12.00, booked 12.00, "
        "rounding adjustment none (documented must equal charged + adjustment = booked + "
        "adjustment)"]


def test_a_changed_invoice_vat_is_reported_per_document_and_rate(db: Database) -> None:
    _, doc = _charge_and_bill(db, Decimal("0.50"))
    with attacker(db) as conn:
        conn.execute(text("UPDATE invoice_lines SET vat = vat + 0.01, gross = gross + 0.01 "
                          "WHERE id = (SELECT MIN(id) FROM invoice_lines)"))
    assert [str(m) for m in run_audit(db).mismatches] == [
        f"document {doc.number} EUR VAT 19%: documented 11.41, charged 12.00, booked 12.00, "
        "rounding adjustment -0.60 (documented must equal charged + adjustment = booked + "
        "adjustment)"]


def test_a_changed_adjustment_or_session_booking_is_reported(db: Database) -> None:
    _, doc = _charge_and_bill(db, Decimal("0.50"))
    with attacker(db) as conn:  # the adjustment gives back a cent too much (VAT and receivable)
        conn.execute(text("UPDATE ledger_entries SET amount = :a WHERE account = :v AND "
                          "transaction_id = (SELECT id FROM ledger_transactions WHERE kind = "
                          "'vat_rounding')"), {"a": "0.61", "v": VAT_ACCOUNT})
        conn.execute(text("UPDATE ledger_entries SET amount = :a WHERE account = :r AND "
                          "transaction_id = (SELECT id FROM ledger_transactions WHERE kind = "
                          "'vat_rounding')"), {"a": "-0.61", "r": accounts.receivable(ACCOUNT)})
    assert [str(m) for m in run_audit(db).mismatches] == [
        f"document {doc.number} EUR VAT 19%: documented 11.40, charged 12.00, booked 12.00, "
        "rounding adjustment -0.61 (documented must equal charged + adjustment = booked + "
        "adjustment)"]


def test_refunds_of_invoiced_sessions_credit_what_was_charged_and_the_books_still_agree(
        db: Database) -> None:
    """The first session's invoice line shows its share of the invoice's VAT (0.50 + 0.09);
    it was charged and is refunded as 0.50 + 0.10: its credit note gives back exactly that."""
    ledger, doc = _charge_and_bill(db, Decimal("0.50"))
    payments = PaymentService(db, SandboxProvider(namespace="t", webhook_secret="whsec_t"),
                              ledger, clock=lambda: NOW)  # fmt: skip
    invoicing = InvoicingService(db, InvoicingSettings())
    shared = [(line.net, line.vat) for line in doc.sessions[0].lines]
    assert shared == [(Decimal("0.50"), Decimal("0.09"))]
    credits = []
    for n, amount in ((0, None), (1, Money.of("0.30", "EUR"))):
        refund = payments.refund(doc.sessions[n].reference, amount, reason="EVSE fault",
                                 actor="ops", key=f"rf-{n}")  # fmt: skip
        credits.append(invoicing.issue_credit_note(refund.id, now=NOW))
    assert [(c.totals.net, c.totals.vat, c.totals.gross) for c in credits] == [
        (Decimal("0.50"), Decimal("0.10"), Decimal("0.60")),
        (Decimal("0.25"), Decimal("0.05"), Decimal("0.30"))]
    balances = _balances(ledger)
    assert balances[accounts.receivable(ACCOUNT)] == doc.totals.gross - Decimal("0.90")
    assert -balances[VAT_ACCOUNT] == doc.totals.vat - Decimal("0.15")
    report = run_audit(db)
    assert report.ok, [str(m) for m in report.mismatches]
    assert report.documents == 3
