"""What the CII and UBL writers share: EN 16931 lines from a document, codes and number text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Final

from evbill.invoicing.model import Document, DocumentType, VatCategory
from evbill.money import minor_unit

__all__ = ["EN16931", "XmlLine", "amount", "decimal_text", "has_rate", "is_iban", "lines_of",
           "means_text", "notes_of"]

#: BT-24 specification identifier of the EN 16931 core (Factur-X EN 16931 profile too).
EN16931: Final = "urn:cen.eu:en16931:2017"

#: UN/ECE Recommendation 20 unit codes for the units our lines are in.
UNIT_CODES: Final = {"kWh": "KWH", "h": "HUR", "session": "C62"}

PAYMENT_MEANS_TEXT: Final = {"10": "In cash", "30": "Credit transfer", "48": "Bank card",
                             "49": "Direct debit", "58": "SEPA credit transfer",
                             "59": "SEPA direct debit", "57": "Standing agreement",
                             "ZZZ": "Prepaid wallet"}  # fmt: skip


def means_text(doc: Document) -> str:
    """BT-82: the payment means in words (a card's brand, never more than its last four)."""
    details = doc.payment_details
    text = PAYMENT_MEANS_TEXT.get(doc.payment_means, "Other")
    if doc.payment_means == "48" and details.get("brand"):
        text = f"{text} {details['brand']}"
    if doc.payment_means == "ZZZ" and details.get("wallet"):
        text = f"{text} {details['wallet']}"
    return text


_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{10,30}")


def is_iban(account: str) -> bool:
    """An IBAN by its shape (country, check digits, BBAN); otherwise a local account number."""
    return bool(_IBAN.fullmatch(account.replace(" ", "").upper()))


def has_rate(category: str) -> bool:
    return VatCategory(category).has_rate


def decimal_text(value: Decimal) -> str:
    """Plain decimal text (no exponent, no grouping), trailing zeros kept as given."""
    return format(value, "f")


def amount(value: Decimal, currency: str) -> str:
    """An amount at exactly the currency's minor unit, e.g. `12.30`."""
    places = minor_unit(currency)
    return format(value.quantize(Decimal(1).scaleb(-places)), "f")


@dataclass(frozen=True, slots=True)
class XmlLine:
    """One EN 16931 invoice line (BG-25)."""

    line_id: str
    name: str
    description: str
    note: str
    quantity: Decimal  # signed: a negative adjustment has a negative quantity, never a price
    unit_code: str
    price: Decimal  # BT-146, never negative
    net: Decimal  # BT-131
    rate: Decimal
    category: str
    start: date
    end: date


def lines_of(document: Document) -> list[XmlLine]:
    """Every component line of every session, numbered `<session>-<n>`."""
    out: list[XmlLine] = []
    for block in document.sessions:
        for n, line in enumerate(block.lines, start=1):
            quantity = line.quantity if line.quantity != 0 else Decimal(1)
            price = abs(line.unit_price)
            if line.net < 0:
                quantity = -abs(quantity)
            note = (
                f"Session {block.reference}, {block.station_id} EVSE {block.evse_id}, "
                f"{block.address}, {block.local_start:%Y-%m-%d %H:%M}–{block.local_end:%H:%M} "
                f"{block.local_start:%Z}, {decimal_text(block.energy_kwh)} kWh"
                + (" (signed meter data)" if block.signed_meter else "")
            )
            out.append(XmlLine(
                line_id=f"{block.reference}-{n}", name=line.kind.label,
                description=line.description, note=note, quantity=quantity,
                unit_code=UNIT_CODES.get(line.unit, "C62"), price=price, net=line.net,
                rate=line.vat_rate, category=line.vat_category,
                start=block.local_start.date(), end=block.local_end.date(),
            ))  # fmt: skip
    return out


def notes_of(document: Document) -> list[str]:
    notes = []
    if document.doc_type is DocumentType.CREDIT_NOTE and document.reason:
        notes.append(f"Credit note for {document.corrects_number}: {document.reason}")
    if document.signed_sessions:
        notes.append(f"{document.signed_sessions} of {len(document.sessions)} sessions billed "
                     "on signed meter data (OCMF)")  # fmt: skip
    if document.issuer.registration:
        notes.append(f"{document.issuer.name}, {document.issuer.registration}")
    if document.doc_type is not DocumentType.CREDIT_NOTE and document.simplified:
        notes.append("Simplified invoice (VAT Directive art. 226b)")
    refund_to = document.payment_details.get("refund_to")
    if refund_to:
        notes.append(f"Amount {refund_to}")
    return notes
