"""CII (Factur-X EN 16931) and UBL 2.1 output: valid against the official XSDs, and the
EN 16931 calculation rules (BR-CO-10/13/15/16, BR-S-08) hold on what is written."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from functools import cache
from pathlib import Path

import pytest
from lxml import etree

from evbill.invoicing.cii import NS, to_cii
from evbill.invoicing.compose import (
    BillingPeriod,
    compose_credit_note,
    compose_invoice,
    compose_receipt,
)
from evbill.invoicing.model import Document
from evbill.invoicing.ubl import to_ubl

from .factories import charged_session, issue, sample_invoice, sample_receipt

SCHEMAS = Path(__file__).parents[1] / "data" / "schemas"
D = Decimal
UBL_NS = {"cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
          "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"}


@cache
def schema(name: str) -> etree.XMLSchema:
    path = {
        "cii": SCHEMAS / "facturx-en16931" / "Factur-X_EN16931.xsd",
        "Invoice": SCHEMAS / "ubl-2.1" / "maindoc" / "UBL-Invoice-2.1.xsd",
        "CreditNote": SCHEMAS / "ubl-2.1" / "maindoc" / "UBL-CreditNote-2.1.xsd",
    }[name]
    return etree.XMLSchema(etree.parse(str(path)))


def _mixed_invoice() -> Document:
    sessions = [charged_session(1, vat=D("19")), charged_session(2, vat=D("7")),
                charged_session(3, vat=D("0"), signed=False)]  # fmt: skip
    return compose_invoice(issue(), BillingPeriod(2026, 10), sessions,
                           currency="EUR").numbered("INV-2026-000010")  # fmt: skip


def _credit(amount: Decimal | None) -> Document:
    return compose_credit_note(issue(), _mixed_invoice(), refund_key="rf", reason="faulty EVSE",
                               amount=amount).numbered("CRN-2026-000003")  # fmt: skip


def _jpy_receipt() -> Document:
    session = charged_session(4, currency="JPY")
    return compose_receipt(issue(), session, payment_note="card").numbered("RCT-2026-000100")


DOCUMENTS: dict[str, Callable[[], Document]] = {
    "invoice": lambda: sample_invoice(5),
    "receipt": sample_receipt,
    "mixed-rates": _mixed_invoice,
    "credit-full": lambda: _credit(None),
    "credit-partial": lambda: _credit(D("12.34")),
    "jpy-receipt": _jpy_receipt,
}


@pytest.mark.parametrize("name", DOCUMENTS)
def test_cii_is_valid_against_the_factur_x_en16931_xsd(name: str) -> None:
    xml = etree.fromstring(to_cii(DOCUMENTS[name]()))
    schema("cii").assertValid(xml)


@pytest.mark.parametrize("name", DOCUMENTS)
def test_ubl_is_valid_against_the_oasis_ubl_21_xsd(name: str) -> None:
    xml = etree.fromstring(to_ubl(DOCUMENTS[name]()))
    kind = etree.QName(xml).localname
    assert kind == ("CreditNote" if name.startswith("credit") else "Invoice")
    schema(kind).assertValid(xml)


def test_the_schemas_do_reject_a_broken_document() -> None:
    xml = etree.fromstring(to_ubl(sample_invoice(1)))
    xml.remove(xml.find("cbc:IssueDate", UBL_NS))
    assert not schema("Invoice").validate(xml)
    cii = etree.fromstring(to_cii(sample_invoice(1)))
    header = cii.find("rsm:ExchangedDocument", NS)
    header.remove(header.find("ram:TypeCode", NS))
    assert not schema("cii").validate(cii)


def _num(node: etree._Element, path: str, ns: dict[str, str]) -> Decimal:
    return D(node.findtext(path, namespaces=ns))


@pytest.mark.parametrize("name", DOCUMENTS)
def test_cii_calculation_rules(name: str) -> None:
    doc = DOCUMENTS[name]()
    xml = etree.fromstring(to_cii(doc))
    lines = [_num(n, "ram:LineTotalAmount", NS)
             for n in xml.iterfind(".//ram:SpecifiedTradeSettlementLineMonetarySummation", NS)]
    s = xml.find(".//ram:SpecifiedTradeSettlementHeaderMonetarySummation", NS)
    line_total = _num(s, "ram:LineTotalAmount", NS)
    assert line_total == sum(lines, D(0)) == doc.totals.net  # BR-CO-10
    assert _num(s, "ram:TaxBasisTotalAmount", NS) == line_total  # BR-CO-13
    grand = _num(s, "ram:GrandTotalAmount", NS)
    assert grand == line_total + _num(s, "ram:TaxTotalAmount", NS) == doc.totals.gross  # CO-15
    prepaid = D(s.findtext("ram:TotalPrepaidAmount", "0", NS))
    assert _num(s, "ram:DuePayableAmount", NS) == grand - prepaid  # BR-CO-16
    for tax in xml.iterfind("rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"
                            "/ram:ApplicableTradeTax", NS):  # fmt: skip
        rate = _num(tax, "ram:RateApplicablePercent", NS)
        basis = sum((_num(item, ".//ram:LineTotalAmount", NS)
                     for item in xml.iterfind(".//ram:IncludedSupplyChainTradeLineItem", NS)
                     if _num(item, ".//ram:RateApplicablePercent", NS) == rate), D(0))
        assert _num(tax, "ram:BasisAmount", NS) == basis  # BR-S-08 / BR-Z-08
        assert abs(_num(tax, "ram:CalculatedAmount", NS) - basis * rate / 100) < 1  # BR-CO-17
    for price in xml.iterfind(".//ram:NetPriceProductTradePrice/ram:ChargeAmount", NS):
        assert D(price.text) >= 0  # BR-27


def test_ubl_totals_and_credit_note_reference() -> None:
    doc = _credit(D("12.34"))
    xml = etree.fromstring(to_ubl(doc))
    total = xml.find("cac:LegalMonetaryTotal", UBL_NS)
    assert total.findtext("cbc:PayableAmount", namespaces=UBL_NS) == "12.34"
    assert total.find("cbc:PayableAmount", UBL_NS).get("currencyID") == "EUR"
    ref = xml.find("cac:BillingReference/cac:InvoiceDocumentReference", UBL_NS)
    assert ref.findtext("cbc:ID", namespaces=UBL_NS) == "INV-2026-000010"
    assert xml.findtext("cbc:CreditNoteTypeCode", namespaces=UBL_NS) == "381"


def test_receipt_is_marked_paid_and_amounts_are_exact_text() -> None:
    doc = sample_receipt()
    cii = etree.fromstring(to_cii(doc))
    s = cii.find(".//ram:SpecifiedTradeSettlementHeaderMonetarySummation", NS)
    assert s.findtext("ram:TotalPrepaidAmount", namespaces=NS) == "16.84"
    assert s.findtext("ram:DuePayableAmount", namespaces=NS) == "0.00"
    quantities = [q.text for q in cii.iterfind(".//ram:BilledQuantity", NS)]
    assert quantities == ["1", "23.456", "1.25", "0.5"]
    units = [q.get("unitCode") for q in cii.iterfind(".//ram:BilledQuantity", NS)]
    assert units == ["C62", "KWH", "HUR", "HUR"]
    jpy = etree.fromstring(to_cii(_jpy_receipt()))
    grand = jpy.findtext(".//ram:GrandTotalAmount", namespaces=NS)
    assert "." not in grand  # JPY has no minor unit


def test_unnumbered_documents_are_refused() -> None:
    draft = sample_invoice(1).numbered("")
    with pytest.raises(ValueError, match="number"):
        to_cii(draft)
    with pytest.raises(ValueError, match="number"):
        to_ubl(draft)
