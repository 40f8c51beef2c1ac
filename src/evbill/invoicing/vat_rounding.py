"""The VAT rounding adjustment of an invoice over postpaid sessions (EN 16931 BR-CO-17).

A postpaid session is charged and booked on its own: its VAT per rate is taken on its own
rounded nets. The monthly invoice takes VAT once per rate on the sum of all its line nets
(BR-CO-17, BR-S-09), so its VAT per rate can differ from the sum of the sessions' booked VAT
by up to half a minor unit per session. That difference is booked when the invoice is issued,
in the same database transaction, as one ledger transaction per invoice (kind
`vat_rounding`): VAT payable per country and rate against the customer's receivable. The
receivable then holds exactly the invoice's gross total, and the VAT payable what the
invoice states. Nothing is booked when every difference is zero.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from evbill.invoicing.model import Document, DocumentError, DocumentType
from evbill.ledger import postings
from evbill.ledger.errors import DayClosed
from evbill.ledger.journal import Transaction
from evbill.ledger.store import post_within
from evbill.money import Money
from evbill.payments.tables import PaymentChargeRow

__all__ = ["KEY_PREFIX", "adjustment_key", "book_vat_rounding", "rate_text",
           "rounding_differences"]  # fmt: skip

#: Idempotency key prefix of the adjustment; the rest is the invoice's source key.
KEY_PREFIX: Final = "invoicing:vat_rounding:"
_CHUNK: Final = 500


def adjustment_key(source_key: str) -> str:
    """The ledger idempotency key of the invoice's adjustment: one per invoice, ever."""
    return KEY_PREFIX + source_key


def rate_text(rate: Decimal | str) -> str:
    """A VAT rate as the ledger's VAT accounts spell it ("19", "7.7", "0")."""
    value = Decimal(rate)
    return "0" if value.is_zero() else format(value.normalize(), "f")


def _charged_vat(s: Session, doc: Document) -> dict[tuple[str, str], Decimal]:
    """VAT charged (and booked) per (country, rate) for the invoice's sessions."""
    references = [block.reference for block in doc.sessions]
    charged: dict[tuple[str, str], Decimal] = {}
    for start in range(0, len(references), _CHUNK):
        query = select(PaymentChargeRow.vat).where(
            PaymentChargeRow.reference.in_(references[start:start + _CHUNK]),
            PaymentChargeRow.method == "postpaid",
            PaymentChargeRow.currency == doc.currency)  # fmt: skip
        for lines in s.execute(query).scalars():
            for line in lines or ():
                key = (line["country"], rate_text(line["rate"]))
                charged[key] = charged.get(key, Decimal(0)) + Decimal(str(line["amount"]))
    return charged


def rounding_differences(s: Session, doc: Document) -> list[postings.VatLine]:
    """Per country and rate: the invoice's VAT less its sessions' charged VAT (signed; zero
    differences included). A rate only the invoice has is owed in its supply country."""
    documented: dict[str, Decimal] = {}
    for subtotal in doc.totals.by_rate:
        key = rate_text(subtotal.rate)
        documented[key] = documented.get(key, Decimal(0)) + subtotal.vat
    charged = _charged_vat(s, doc)
    home = doc.supply_country or doc.issuer.country
    out = []
    for rate in sorted(set(documented) | {r for _, r in charged}, key=Decimal, reverse=True):
        countries = sorted(c for c, r in charged if r == rate) or [home]
        primary = home if home in countries else countries[0]
        for country in countries:
            stated = documented.get(rate, Decimal(0)) if country == primary else Decimal(0)
            diff = stated - charged.get((country, rate), Decimal(0))
            out.append(postings.VatLine(country, rate, Money(diff, doc.currency)))
    return out


def book_vat_rounding(s: Session, doc: Document, *, at: datetime) -> Transaction | None:
    """Book the issued invoice's rounding adjustment inside the caller's transaction (it
    commits with the invoice). Idempotent by the invoice's source key: a repeat, or an
    invoice issued before this existed, books at most once. None when nothing is owed."""
    if doc.doc_type is not DocumentType.INVOICE or not doc.number:
        return None
    meta = postings.Meta(key=adjustment_key(doc.source_key), reference=doc.number, at=at)
    txn = postings.vat_rounding(meta, doc.account_id, rounding_differences(s, doc))
    if txn is None:
        return None
    try:
        return post_within(s, txn)
    except DayClosed as exc:
        raise DocumentError(f"issued_at: the invoice's VAT rounding adjustment cannot be "
                            f"booked: {exc}") from exc

