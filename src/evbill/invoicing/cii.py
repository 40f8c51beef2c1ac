"""Factur-X / ZUGFeRD: the document as UN/CEFACT CII XML in the EN 16931 profile."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Final

from lxml import etree
from lxml.etree import _Element

from evbill.invoicing.einvoice import (
    EN16931,
    XmlLine,
    amount,
    decimal_text,
    has_rate,
    is_iban,
    lines_of,
    means_text,
    notes_of,
)
from evbill.invoicing.model import Document, DocumentType, Party

__all__ = ["NS", "to_cii"]

NS: Final = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}



def _el(parent: _Element, tag: str, text: str | None = None, **attrs: str) -> _Element:
    prefix, name = tag.split(":")
    node = etree.SubElement(parent, f"{{{NS[prefix]}}}{name}", attrs)
    if text is not None:
        node.text = text
    return node


def _date(parent: _Element, tag: str, value: date, kind: str = "udt") -> None:
    _el(_el(parent, tag), f"{kind}:DateTimeString", value.strftime("%Y%m%d"), format="102")


def _party(parent: _Element, tag: str, party: Party) -> None:
    node = _el(parent, tag)
    _el(node, "ram:Name", party.name)
    if party.registration:
        _el(_el(node, "ram:SpecifiedLegalOrganization"), "ram:ID", party.registration)
    address = _el(node, "ram:PostalTradeAddress")
    _el(address, "ram:PostcodeCode", party.postcode)
    _el(address, "ram:LineOne", party.street)
    _el(address, "ram:CityName", party.city)
    _el(address, "ram:CountryID", party.country)
    if party.email:
        _el(_el(node, "ram:URIUniversalCommunication"), "ram:URIID", party.email, schemeID="EM")
    if party.vat_id:
        _el(_el(node, "ram:SpecifiedTaxRegistration"), "ram:ID", party.vat_id, schemeID="VA")


def _tax(parent: _Element, rate: Decimal, category: str) -> _Element:
    tax = _el(parent, "ram:ApplicableTradeTax")
    _el(tax, "ram:TypeCode", "VAT")
    _el(tax, "ram:CategoryCode", category)
    if has_rate(category):
        _el(tax, "ram:RateApplicablePercent", decimal_text(rate))
    return tax


def _line(parent: _Element, line: XmlLine, currency: str) -> None:
    item = _el(parent, "ram:IncludedSupplyChainTradeLineItem")
    doc = _el(item, "ram:AssociatedDocumentLineDocument")
    _el(doc, "ram:LineID", line.line_id)
    _el(_el(doc, "ram:IncludedNote"), "ram:Content", line.note)
    product = _el(item, "ram:SpecifiedTradeProduct")
    _el(product, "ram:Name", line.name)
    _el(product, "ram:Description", line.description)
    agreement = _el(item, "ram:SpecifiedLineTradeAgreement")
    _el(_el(agreement, "ram:NetPriceProductTradePrice"), "ram:ChargeAmount",
        decimal_text(line.price))  # fmt: skip
    _el(_el(item, "ram:SpecifiedLineTradeDelivery"), "ram:BilledQuantity",
        decimal_text(line.quantity), unitCode=line.unit_code)  # fmt: skip
    settlement = _el(item, "ram:SpecifiedLineTradeSettlement")
    _tax(settlement, line.rate, line.category)
    period = _el(settlement, "ram:BillingSpecifiedPeriod")
    _date(period, "ram:StartDateTime", line.start)
    _date(period, "ram:EndDateTime", line.end)
    _el(_el(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation"),
        "ram:LineTotalAmount", amount(line.net, currency))  # fmt: skip


def _settlement(parent: _Element, doc: Document) -> None:
    cur = doc.currency
    settlement = _el(parent, "ram:ApplicableHeaderTradeSettlement")
    details = doc.payment_details
    if doc.payment_means == "59" and details.get("creditor_id"):
        _el(settlement, "ram:CreditorReferenceID", details["creditor_id"])
    _el(settlement, "ram:PaymentReference", doc.number)
    _el(settlement, "ram:InvoiceCurrencyCode", cur)
    means = _el(settlement, "ram:SpecifiedTradeSettlementPaymentMeans")
    _el(means, "ram:TypeCode", doc.payment_means)
    _el(means, "ram:Information", means_text(doc))
    if doc.payment_means == "48" and details.get("last4"):
        _el(_el(means, "ram:ApplicableTradeSettlementFinancialCard"), "ram:ID",
            details["last4"])  # fmt: skip
    if doc.payment_means == "59" and details.get("debtor_iban"):
        _el(_el(means, "ram:PayerPartyDebtorFinancialAccount"), "ram:IBANID",
            details["debtor_iban"])  # fmt: skip
    if doc.payment_means in ("30", "58") and doc.issuer.iban:
        tag = "ram:IBANID" if is_iban(doc.issuer.iban) else "ram:ProprietaryID"
        _el(_el(means, "ram:PayeePartyCreditorFinancialAccount"), tag, doc.issuer.iban)
    for subtotal in doc.totals.by_rate:
        tax = _el(settlement, "ram:ApplicableTradeTax")
        _el(tax, "ram:CalculatedAmount", amount(subtotal.vat, cur))
        _el(tax, "ram:TypeCode", "VAT")
        if subtotal.exemption_reason:
            _el(tax, "ram:ExemptionReason", subtotal.exemption_reason)
        _el(tax, "ram:BasisAmount", amount(subtotal.taxable, cur))
        _el(tax, "ram:CategoryCode", subtotal.category)
        if subtotal.exemption_code:
            _el(tax, "ram:ExemptionReasonCode", subtotal.exemption_code)
        if has_rate(subtotal.category):
            _el(tax, "ram:RateApplicablePercent", decimal_text(subtotal.rate))
    period = _el(settlement, "ram:BillingSpecifiedPeriod")
    _date(period, "ram:StartDateTime", doc.period_start)
    _date(period, "ram:EndDateTime", doc.period_end)
    if doc.due_date or doc.payment_note or details.get("mandate"):
        terms = _el(settlement, "ram:SpecifiedTradePaymentTerms")
        if doc.payment_note:
            _el(terms, "ram:Description", doc.payment_note)
        if doc.due_date:
            _date(terms, "ram:DueDateDateTime", doc.due_date)
        if doc.payment_means == "59" and details.get("mandate"):
            _el(terms, "ram:DirectDebitMandateID", details["mandate"])
    _summation(settlement, doc)
    if doc.corrects_number:
        ref = _el(settlement, "ram:InvoiceReferencedDocument")
        _el(ref, "ram:IssuerAssignedID", doc.corrects_number)
        if doc.corrects_issue_date:
            _date(ref, "ram:FormattedIssueDateTime", doc.corrects_issue_date, kind="qdt")


def _summation(parent: _Element, doc: Document) -> None:
    cur, totals = doc.currency, doc.totals
    prepaid = totals.gross if doc.paid else Decimal(0)
    summary = _el(parent, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    _el(summary, "ram:LineTotalAmount", amount(totals.net, cur))
    _el(summary, "ram:TaxBasisTotalAmount", amount(totals.net, cur))
    _el(summary, "ram:TaxTotalAmount", amount(totals.vat, cur), currencyID=cur)
    _el(summary, "ram:GrandTotalAmount", amount(totals.gross, cur))
    if doc.paid:
        _el(summary, "ram:TotalPrepaidAmount", amount(prepaid, cur))
    _el(summary, "ram:DuePayableAmount", amount(totals.gross - prepaid, cur))


def _delivery(parent: _Element, doc: Document) -> None:
    """BG-13: delivered to the stations' country (BT-80, the place of supply) and, for a
    receipt or credit note, the date of supply (BT-72); never an empty element (R008)."""
    delivery = _el(parent, "ram:ApplicableHeaderTradeDelivery")
    if doc.supply_country:
        _el(_el(_el(delivery, "ram:ShipToTradeParty"), "ram:PostalTradeAddress"),
            "ram:CountryID", doc.supply_country)  # fmt: skip
    if doc.doc_type is not DocumentType.INVOICE or not doc.supply_country:
        _date(_el(delivery, "ram:ActualDeliverySupplyChainEvent"), "ram:OccurrenceDateTime",
              doc.period_end)  # fmt: skip


def to_cii(doc: Document) -> bytes:
    """The Factur-X EN 16931 XML (UTF-8, with declaration) of a numbered document."""
    if not doc.number:
        raise ValueError("number: only a numbered document becomes an e-invoice")
    root = etree.Element(f"{{{NS['rsm']}}}CrossIndustryInvoice", nsmap=NS)
    context = _el(root, "rsm:ExchangedDocumentContext")
    _el(_el(context, "ram:GuidelineSpecifiedDocumentContextParameter"), "ram:ID", EN16931)
    header = _el(root, "rsm:ExchangedDocument")
    _el(header, "ram:ID", doc.number)
    _el(header, "ram:TypeCode", doc.doc_type.type_code)
    _date(header, "ram:IssueDateTime", doc.issue_date)
    for note in notes_of(doc):
        _el(_el(header, "ram:IncludedNote"), "ram:Content", note)
    transaction = _el(root, "rsm:SupplyChainTradeTransaction")
    for line in lines_of(doc):
        _line(transaction, line, doc.currency)
    agreement = _el(transaction, "ram:ApplicableHeaderTradeAgreement")
    _el(agreement, "ram:BuyerReference", doc.account_id)
    _party(agreement, "ram:SellerTradeParty", doc.issuer)
    _party(agreement, "ram:BuyerTradeParty", doc.customer)
    _delivery(transaction, doc)
    _settlement(transaction, doc)
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8",
                                 pretty_print=True)  # fmt: skip
    return data
