"""SEPA direct debit mandates end to end: `evbill accounts mandate` stores and revokes them, and
the billing run (`evbill bill`) collects an account's invoice by direct debit (59: mandate,
creditor id, debtor IBAN) while its mandate is active, else by credit transfer (58). The direct
debit invoices pass both official EN 16931 rule sets; the PDF shows the IBAN masked."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import date

import pikepdf
import pytest
from lxml import etree
from sqlalchemy import select
from typer.testing import CliRunner

from evbill.cli import app
from evbill.invoicing.cii import to_cii
from evbill.invoicing.model import Document
from evbill.invoicing.pdf import FACTURX_FILENAME
from evbill.invoicing.render_html import render_html
from evbill.invoicing.repository import load_document
from evbill.invoicing.seed import SeedPlan, seed_month
from evbill.invoicing.settings import (
    InvoicingSettings,
    IssuerNotConfigured,
    check_issuer,
    get_invoicing_settings,
)
from evbill.invoicing.tables import BillingRunItemRow, DocumentRow
from evbill.invoicing.ubl import to_ubl
from evbill.payments.mandates import Mandates
from evbill.payments.refusals import Invalid
from evbill.payments.sepa import check_creditor_id, check_iban
from evbill.payments.tables import PaymentMandateRow
from evbill.store.database import Database

from .en16931 import Validator, validator
from .parallel_workers import NOW

runner = CliRunner()
CREDITOR = "DE98ZZZ09999999999"  # the Bundesbank's documented test creditor identifier
IBAN = "NL91ABNA0417164300"  # a checksum-valid IBAN (ISO 13616 example)
DEBTOR_A, DEBTOR_B = "acct-000000", "acct-000001"

CII = {"rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
       "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"}
UBL = {"cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
       "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"}


@pytest.fixture
def creditor_id(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The issuer's SEPA creditor identifier, configured as an operator would."""
    monkeypatch.setenv("EVBILL_INVOICE_SEPA_CREDITOR_ID", "de98 zzz0 9999 9999 99")
    get_invoicing_settings.cache_clear()
    yield CREDITOR
    monkeypatch.undo()
    get_invoicing_settings.cache_clear()


@pytest.fixture(scope="module")
def rules() -> Validator:
    return validator()


def _url(db: Database) -> str:
    return db.engine.url.render_as_string(hide_password=False)


def _mandate(db: Database, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["accounts", "mandate", *args, "--database", _url(db)])
    return result.exit_code, result.output


def _seed(db: Database, accounts: int = 2) -> None:
    with db.sessions() as s:
        seed_month(s, SeedPlan(accounts=accounts, sessions_per_account=3), now=NOW)
        s.commit()


def _bill(db: Database) -> dict[str, Document]:
    result = runner.invoke(app, ["bill", "--period", "2026-10", "--no-pdf", "--database",
                                 _url(db)])  # fmt: skip
    assert result.exit_code == 0, result.output
    with db.read_sessions() as s:
        rows = s.scalars(select(DocumentRow).where(DocumentRow.doc_type == "INVOICE"))
        return {row.account_id: load_document(s, row) for row in rows}


def _fatal(rules: Validator, xml: bytes) -> list[str]:
    return [f"{f.rule}: {f.text}" for f in rules.fatal(xml)]


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_the_cli_stores_replaces_and_revokes_a_mandate(db: Database, creditor_id: str) -> None:
    code, out = _mandate(db, DEBTOR_A, "--reference", "ACME-001", "--iban",
                         "NL91 ABNA 0417 1643 00", "--signed", "2026-09-15")
    assert code == 0 and "stored" in out and "NL…4300" in out, out
    assert IBAN not in out  # shown masked
    code, out = _mandate(db, DEBTOR_A, "--reference", "ACME-001", "--iban", IBAN,
                         "--signed", "2026-09-15")
    assert code == 0 and "unchanged" in out, out  # the same command twice changes nothing
    code, out = _mandate(db, DEBTOR_A, "--reference", "ACME-002", "--iban",
                         "DE02120300000000202051", "--signed", "2026-10-01")
    assert code == 0 and "replaced ACME-001" in out, out
    with db.read_sessions() as s:
        rows = {r.reference: r for r in s.scalars(select(PaymentMandateRow))}
    assert (rows["ACME-001"].status, rows["ACME-001"].active_account) == ("revoked", None)
    assert rows["ACME-001"].revoked_at is not None
    assert (rows["ACME-002"].status, rows["ACME-002"].debtor_iban,
            rows["ACME-002"].signed_on) == ("active", "DE02120300000000202051", date(2026, 10, 1))

    code, out = _mandate(db, DEBTOR_A, "--reference", "ACME-001", "--iban", IBAN,
                         "--signed", "2026-09-15")
    assert code == 2 and "revoked" in out and "new reference" in out, out
    code, out = _mandate(db, DEBTOR_B, "--reference", "ACME-002", "--iban", IBAN,
                         "--signed", "2026-10-01")
    assert code == 2 and "another account" in out, out
    code, out = _mandate(db, DEBTOR_A)
    assert code == 0 and out.splitlines()[0].startswith(f"{DEBTOR_A}: mandate ACME-002 (active)")

    code, out = _mandate(db, DEBTOR_A, "--revoke")
    assert code == 0 and "ACME-002 revoked" in out, out
    code, out = _mandate(db, DEBTOR_A, "--revoke")
    assert code == 0 and "no active mandate" in out, out  # a repeated revoke changes nothing
    assert Mandates(db, lambda: NOW).active(DEBTOR_A) is None


@pytest.mark.parametrize(("args", "reason"), [
    (("--iban", "NL91ABNA0417164301"), "check digits"),
    (("--iban", "NL91ABNA041716430"), "has 18 characters, not 17"),
    (("--iban", "US12345678901234567890"), "not a country of the SEPA"),
    (("--iban", "not an iban"), "is not an IBAN"),
    (("--reference", "ACME 001"), "no space"),
    (("--reference", "A" * 36), "1 to 35 characters"),
    (("--reference", "ACME//1"), "'//'"),
    (("--signed", "2026-02-30"), "is not a date"),
    (("--signed", "2099-01-01"), "in the future"),
])
def test_a_bad_mandate_is_refused_with_a_clear_error_and_stores_nothing(
    db: Database, args: tuple[str, str], reason: str
) -> None:
    given = {"--reference": "ACME-001", "--iban": IBAN, "--signed": "2026-09-15"}
    given[args[0]] = args[1]
    code, out = _mandate(db, DEBTOR_A, *[x for kv in given.items() for x in kv])
    assert code == 2 and reason in out, out
    with db.read_sessions() as s:
        assert s.scalars(select(PaymentMandateRow)).all() == []


def test_sepa_checks_are_the_banks_checks() -> None:
    assert check_iban("de02 1203 0000 0000 2020 51") == "DE02120300000000202051"
    assert check_creditor_id("DE98ZZZ09999999999") == CREDITOR
    with pytest.raises(Invalid, match="check digits"):
        check_creditor_id("DE97ZZZ09999999999")
    check_issuer(InvoicingSettings(sepa_creditor_id=CREDITOR))
    with pytest.raises(IssuerNotConfigured, match="EVBILL_INVOICE_SEPA_CREDITOR_ID"):
        check_issuer(InvoicingSettings(sepa_creditor_id="DE97ZZZ09999999999"))


def test_a_mandate_invoice_is_collected_by_direct_debit_and_passes_en16931(
    db: Database, creditor_id: str, rules: Validator
) -> None:
    _seed(db)
    code, out = _mandate(db, DEBTOR_A, "--reference", "ACME-001", "--iban", IBAN,
                         "--signed", "2026-09-15")
    assert code == 0, out
    invoices = _bill(db)
    debit, transfer = invoices[DEBTOR_A], invoices[DEBTOR_B]
    assert (debit.payment_means, transfer.payment_means) == ("59", "58")
    assert debit.payment_details["mandate"] == "ACME-001"
    assert debit.payment_details["creditor_id"] == CREDITOR
    assert debit.payment_details["debtor_iban"] == IBAN

    cii = to_cii(debit)
    tree = etree.fromstring(cii)
    settlement = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"
    assert tree.findtext(f"{settlement}/ram:CreditorReferenceID", namespaces=CII) == CREDITOR
    means = f"{settlement}/ram:SpecifiedTradeSettlementPaymentMeans"
    assert tree.findtext(f"{means}/ram:TypeCode", namespaces=CII) == "59"
    assert tree.findtext(f"{means}/ram:PayerPartyDebtorFinancialAccount/ram:IBANID",
                         namespaces=CII) == IBAN  # BT-91
    assert tree.findtext(f"{settlement}/ram:SpecifiedTradePaymentTerms/"
                         "ram:DirectDebitMandateID", namespaces=CII) == "ACME-001"  # BT-89
    assert tree.find(f"{means}/ram:PayeePartyCreditorFinancialAccount", CII) is None

    ubl = to_ubl(debit)
    doc = etree.fromstring(ubl)
    assert doc.findtext("cac:PaymentMeans/cbc:PaymentMeansCode", namespaces=UBL) == "59"
    assert doc.findtext("cac:PaymentMeans/cac:PaymentMandate/cbc:ID", namespaces=UBL) \
        == "ACME-001"
    assert doc.findtext("cac:PaymentMeans/cac:PaymentMandate/cac:PayerFinancialAccount/cbc:ID",
                        namespaces=UBL) == IBAN
    assert doc.findtext("cac:AccountingSupplierParty/cac:Party/cac:PartyIdentification/cbc:ID",
                        namespaces=UBL) == CREDITOR  # BT-90

    for xml in (cii, ubl, to_cii(transfer), to_ubl(transfer)):
        assert _fatal(rules, xml) == []

    text = _text(render_html(debit))
    due = debit.due_date
    assert due is not None
    assert f"will be debited on or after {due:%d.%m.%Y} by SEPA direct debit from your " \
           "account ending 4300 (mandate reference ACME-001, creditor identifier " \
           f"{CREDITOR})" in text, text
    assert IBAN not in text and "Please pay" not in text
    assert "Please pay" in _text(render_html(transfer))


def test_the_stored_pdf_of_a_mandate_invoice_embeds_valid_xml(
    db: Database, creditor_id: str, rules: Validator
) -> None:
    _seed(db, accounts=1)
    assert _mandate(db, DEBTOR_A, "--reference", "ACME-001", "--iban", IBAN,
                    "--signed", "2026-09-15")[0] == 0
    result = runner.invoke(app, ["bill", "--period", "2026-10", "--database", _url(db)])
    assert result.exit_code == 0 and "pdfs_rendered: 1" in result.stdout, result.output
    with db.read_sessions() as s:
        row = s.scalars(select(DocumentRow).where(DocumentRow.doc_type == "INVOICE")).one()
        assert row.pdf is not None
        pdf_bytes = bytes(row.pdf)
    with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
        embedded = pdf.attachments[FACTURX_FILENAME].get_file().read_bytes()
    assert b"<ram:TypeCode>59</ram:TypeCode>" in embedded
    assert _fatal(rules, embedded) == []


def test_a_revoked_mandate_falls_back_to_credit_transfer(
    db: Database, creditor_id: str, rules: Validator
) -> None:
    _seed(db, accounts=1)
    assert _mandate(db, DEBTOR_A, "--reference", "ACME-001", "--iban", IBAN,
                    "--signed", "2026-09-15")[0] == 0
    assert _mandate(db, DEBTOR_A, "--revoke")[0] == 0
    invoice = _bill(db)[DEBTOR_A]
    assert invoice.payment_means == "58"
    assert invoice.payment_details == {"iban": "DE02120300000000202051"}  # the issuer's
    assert b"DirectDebitMandateID" not in to_cii(invoice)
    assert _fatal(rules, to_cii(invoice)) == []


def test_a_mandate_without_the_issuers_creditor_id_fails_that_invoice_clearly(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EVBILL_INVOICE_SEPA_CREDITOR_ID", raising=False)
    get_invoicing_settings.cache_clear()
    _seed(db)
    code, out = _mandate(db, DEBTOR_A, "--reference", "ACME-001", "--iban", IBAN,
                         "--signed", "2026-09-15")
    assert code == 0 and "EVBILL_INVOICE_SEPA_CREDITOR_ID is not set" in out, out
    result = runner.invoke(app, ["bill", "--period", "2026-10", "--no-pdf", "--database",
                                 _url(db)])  # fmt: skip
    assert result.exit_code == 1 and "failed: 1" in result.stdout, result.output
    with db.read_sessions() as s:
        accounts = set(s.scalars(select(DocumentRow.account_id)))
        errors = list(s.scalars(select(BillingRunItemRow.error)
                                .where(BillingRunItemRow.status == "failed")))
    assert len(errors) == 1 and "EVBILL_INVOICE_SEPA_CREDITOR_ID" in str(errors[0]), errors
    assert accounts == {DEBTOR_B}  # the other account is billed; the run can be resumed
