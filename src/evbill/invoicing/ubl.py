"""UBL 2.1 export: invoices and receipts as `Invoice`, credit notes as `CreditNote` (EN 16931)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

from lxml import etree
from lxml.etree import _Element

from evbill.invoicing.einvoice import (
    EN16931,
    XmlLine,
    amount,
    decimal_text,
    has_rate,
    lines_of,
    means_text,
    notes_of,
)
from evbill.invoicing.model import Document, DocumentType, Party

__all__ = ["to_ubl"]

_CAC: Final = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
_CBC: Final = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
_ROOTS: Final = {
    "Invoice": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    "CreditNote": "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
}



def _cac(parent: _Element, name: str) -> _Element:
    return etree.SubElement(parent, f"{{{_CAC}}}{name}")


def _cbc(parent: _Element, tag: str, text: str, **attrs: str) -> _Element:
    node = etree.SubElement(parent, f"{{{_CBC}}}{tag}", attrs)
    node.text = text
    return node


def _scheme(parent: _Element, name: str = "TaxScheme") -> None:
    _cbc(_cac(parent, name), "ID", "VAT")


def _party(parent: _Element, role: str, party: Party, creditor_id: str | None = None) -> None:
    node = _cac(_cac(parent, role), "Party")
    if party.email:
        _cbc(node, "EndpointID", party.email, schemeID="EM")
    if creditor_id:  # BT-90, SEPA creditor identifier of a direct debit
        _cbc(_cac(node, "PartyIdentification"), "ID", creditor_id, schemeID="SEPA")
    _cbc(_cac(node, "PartyName"), "Name", party.name)
    address = _cac(node, "PostalAddress")
    _cbc(address, "StreetName", party.street)
    _cbc(address, "CityName", party.city)
    _cbc(address, "PostalZone", party.postcode)
    _cbc(_cac(address, "Country"), "IdentificationCode", party.country)
    if party.vat_id:
        tax = _cac(node, "PartyTaxScheme")
        _cbc(tax, "CompanyID", party.vat_id)
        _scheme(tax)
    legal = _cac(node, "PartyLegalEntity")
    _cbc(legal, "RegistrationName", party.name)
    if party.registration:
        _cbc(legal, "CompanyID", party.registration)
    if party.email or party.phone:
        contact = _cac(node, "Contact")
        if party.phone:
            _cbc(contact, "Telephone", party.phone)
        if party.email:
            _cbc(contact, "ElectronicMail", party.email)


def _category(parent: _Element, name: str, rate: Decimal, category: str,
              exemption: tuple[str | None, str | None] = (None, None)) -> None:  # fmt: skip
    node = _cac(parent, name)
    _cbc(node, "ID", category)
    if has_rate(category):
        _cbc(node, "Percent", decimal_text(rate))
    if exemption[0]:
        _cbc(node, "TaxExemptionReasonCode", exemption[0])
    if exemption[1]:
        _cbc(node, "TaxExemptionReason", exemption[1])
    _scheme(node)


def _line(root: _Element, kind: str, line: XmlLine, currency: str) -> None:
    node = _cac(root, f"{kind}Line")
    _cbc(node, "ID", line.line_id)
    _cbc(node, "Note", line.note)
    quantity_tag = "CreditedQuantity" if kind == "CreditNote" else "InvoicedQuantity"
    _cbc(node, quantity_tag, decimal_text(line.quantity), unitCode=line.unit_code)
    _cbc(node, "LineExtensionAmount", amount(line.net, currency), currencyID=currency)
    period = _cac(node, "InvoicePeriod")
    _cbc(period, "StartDate", line.start.isoformat())
    _cbc(period, "EndDate", line.end.isoformat())
    item = _cac(node, "Item")
    _cbc(item, "Description", line.description)
    _cbc(item, "Name", line.name)
    _category(item, "ClassifiedTaxCategory", line.rate, line.category)
    _cbc(_cac(node, "Price"), "PriceAmount", decimal_text(line.price), currencyID=currency)


def _header(root: _Element, kind: str, doc: Document) -> None:
    _cbc(root, "UBLVersionID", "2.1")
    _cbc(root, "CustomizationID", EN16931)
    _cbc(root, "ID", doc.number)
    _cbc(root, "IssueDate", doc.issue_date.isoformat())
    if kind == "Invoice" and doc.due_date:
        _cbc(root, "DueDate", doc.due_date.isoformat())
    _cbc(root, f"{kind}TypeCode", doc.doc_type.type_code)
    for note in notes_of(doc):
        _cbc(root, "Note", note)
    _cbc(root, "DocumentCurrencyCode", doc.currency)
    _cbc(root, "BuyerReference", doc.account_id)
    period = _cac(root, "InvoicePeriod")
    _cbc(period, "StartDate", doc.period_start.isoformat())
    _cbc(period, "EndDate", doc.period_end.isoformat())
    if doc.corrects_number:
        ref = _cac(_cac(root, "BillingReference"), "InvoiceDocumentReference")
        _cbc(ref, "ID", doc.corrects_number)
        if doc.corrects_issue_date:
            _cbc(ref, "IssueDate", doc.corrects_issue_date.isoformat())


def _delivery(root: _Element, doc: Document) -> None:
    """BG-13: the stations' country (BT-80, place of supply); a receipt's or credit note's
    date of supply (BT-72). Never an empty element (PEPPOL-EN16931-R008)."""
    receipt_like = doc.doc_type is not DocumentType.INVOICE or not doc.supply_country
    delivery = _cac(root, "Delivery")
    if receipt_like:
        _cbc(delivery, "ActualDeliveryDate", doc.period_end.isoformat())
    if doc.supply_country:
        address = _cac(_cac(delivery, "DeliveryLocation"), "Address")
        _cbc(_cac(address, "Country"), "IdentificationCode", doc.supply_country)


def _payment(root: _Element, kind: str, doc: Document) -> None:
    _delivery(root, doc)
    details = doc.payment_details
    means = _cac(root, "PaymentMeans")
    _cbc(means, "PaymentMeansCode", doc.payment_means, name=means_text(doc))
    if kind == "CreditNote" and doc.due_date:
        _cbc(means, "PaymentDueDate", doc.due_date.isoformat())
    _cbc(means, "PaymentID", doc.number)
    if doc.payment_means == "48" and details.get("last4"):
        card = _cac(means, "CardAccount")
        _cbc(card, "PrimaryAccountNumberID", details["last4"])
        _cbc(card, "NetworkID", details.get("brand") or "card")
    if doc.payment_means in ("30", "58") and doc.issuer.iban:
        _cbc(_cac(means, "PayeeFinancialAccount"), "ID", doc.issuer.iban)
    if doc.payment_means == "59" and details.get("mandate"):
        mandate = _cac(means, "PaymentMandate")
        _cbc(mandate, "ID", details["mandate"])
        if details.get("debtor_iban"):
            _cbc(_cac(mandate, "PayerFinancialAccount"), "ID", details["debtor_iban"])
    if doc.payment_note:
        _cbc(_cac(root, "PaymentTerms"), "Note", doc.payment_note)


def _totals(root: _Element, doc: Document) -> None:
    cur, totals = doc.currency, doc.totals
    tax_total = _cac(root, "TaxTotal")
    _cbc(tax_total, "TaxAmount", amount(totals.vat, cur), currencyID=cur)
    for subtotal in totals.by_rate:
        node = _cac(tax_total, "TaxSubtotal")
        _cbc(node, "TaxableAmount", amount(subtotal.taxable, cur), currencyID=cur)
        _cbc(node, "TaxAmount", amount(subtotal.vat, cur), currencyID=cur)
        _category(node, "TaxCategory", subtotal.rate, subtotal.category,
                  (subtotal.exemption_code, subtotal.exemption_reason))
    monetary = _cac(root, "LegalMonetaryTotal")
    prepaid = totals.gross if doc.paid else Decimal(0)
    _cbc(monetary, "LineExtensionAmount", amount(totals.net, cur), currencyID=cur)
    _cbc(monetary, "TaxExclusiveAmount", amount(totals.net, cur), currencyID=cur)
    _cbc(monetary, "TaxInclusiveAmount", amount(totals.gross, cur), currencyID=cur)
    if doc.paid:
        _cbc(monetary, "PrepaidAmount", amount(prepaid, cur), currencyID=cur)
    _cbc(monetary, "PayableAmount", amount(totals.gross - prepaid, cur), currencyID=cur)


def to_ubl(doc: Document) -> bytes:
    """UBL 2.1 XML of a numbered document: `Invoice` (380) or `CreditNote` (381)."""
    if not doc.number:
        raise ValueError("number: only a numbered document becomes an e-invoice")
    kind = "CreditNote" if doc.doc_type is DocumentType.CREDIT_NOTE else "Invoice"
    nsmap: Any = {None: _ROOTS[kind], "cac": _CAC, "cbc": _CBC}  # None: the default namespace
    root = etree.Element(f"{{{_ROOTS[kind]}}}{kind}", nsmap=nsmap)
    _header(root, kind, doc)
    creditor = doc.payment_details.get("creditor_id") if doc.payment_means == "59" else None
    _party(root, "AccountingSupplierParty", doc.issuer, creditor)
    _party(root, "AccountingCustomerParty", doc.customer)
    _payment(root, kind, doc)
    _totals(root, doc)
    for line in lines_of(doc):
        _line(root, kind, line, doc.currency)
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8",
                                 pretty_print=True)  # fmt: skip
    return data
