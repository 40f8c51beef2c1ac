"""Document values: parties, charging-session blocks, lines, VAT subtotals and the document.

Everything here is a frozen dataclass of exact `Decimal` amounts in one currency; a document
is built once (`compose.py`), numbered once (`service.py`) and never changed after issue.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

__all__ = [
    "ComponentKind",
    "Document",
    "DocumentError",
    "DocumentLine",
    "DocumentType",
    "Party",
    "SessionBlock",
    "Totals",
    "VatCategory",
    "VatSubtotal",
]


class DocumentError(ValueError):
    """A document that cannot be built; the message names the field and the reason."""


class DocumentType(StrEnum):
    """The three documents evbill issues, with their number prefix and UNTDID 1001 code."""

    RECEIPT = "RECEIPT"
    INVOICE = "INVOICE"
    CREDIT_NOTE = "CREDIT_NOTE"

    @property
    def prefix(self) -> str:
        return {"RECEIPT": "RCT", "INVOICE": "INV", "CREDIT_NOTE": "CRN"}[self.value]

    @property
    def type_code(self) -> str:
        """UNTDID 1001: 380 commercial invoice (a receipt is a paid invoice), 381 credit note."""
        return "381" if self is DocumentType.CREDIT_NOTE else "380"

    @property
    def label(self) -> str:
        return {"RECEIPT": "Receipt", "INVOICE": "Invoice", "CREDIT_NOTE": "Credit note"}[
            self.value
        ]


class ComponentKind(StrEnum):
    """What a line charges for (the OCPI tariff dimensions, plus a refund adjustment)."""

    ENERGY = "ENERGY"
    TIME = "TIME"
    PARKING_TIME = "PARKING_TIME"
    FLAT = "FLAT"
    RESERVATION_FLAT = "RESERVATION_FLAT"
    RESERVATION_TIME = "RESERVATION_TIME"
    MIN_PRICE = "MIN_PRICE"
    MAX_PRICE = "MAX_PRICE"
    REFUND = "REFUND"

    @property
    def label(self) -> str:
        return _LABELS[self.value]


_LABELS = {
    "ENERGY": "Energy", "TIME": "Charging time", "PARKING_TIME": "Parking time",
    "FLAT": "Session fee", "RESERVATION_FLAT": "Reservation fee",
    "RESERVATION_TIME": "Reservation time", "MIN_PRICE": "Minimum price adjustment",
    "MAX_PRICE": "Maximum price adjustment", "REFUND": "Refund",
}  # fmt: skip


class VatCategory(StrEnum):
    """UNTDID 5305 VAT category codes EN 16931 allows (BT-118, BT-151)."""

    STANDARD = "S"
    ZERO = "Z"
    EXEMPT = "E"
    REVERSE_CHARGE = "AE"
    INTRA_COMMUNITY = "K"
    EXPORT = "G"
    NOT_SUBJECT = "O"

    @property
    def label(self) -> str:
        return _CATEGORY_LABELS[self.value]

    @property
    def has_rate(self) -> bool:
        """O carries no rate at all (BR-O-05); the others state one (0 for all but S)."""
        return self is not VatCategory.NOT_SUBJECT


_CATEGORY_LABELS = {
    "S": "Standard rate", "Z": "Zero rated", "E": "Exempt from VAT",
    "AE": "Reverse charge", "K": "Intra-community supply", "G": "Export outside the EU",
    "O": "Not subject to VAT",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Party:
    """Issuer or customer as art. 226 requires: full name, address, VAT id where there is one."""

    name: str
    street: str
    postcode: str
    city: str
    country: str  # ISO 3166-1 alpha-2
    vat_id: str | None = None
    registration: str | None = None  # company register / legal id
    email: str | None = None
    phone: str | None = None
    iban: str | None = None

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise DocumentError("party.name: must not be empty")
        if len(self.country) != 2 or not self.country.isalpha() or not self.country.isupper():
            raise DocumentError(f"party.country: {self.country!r} is not an ISO 3166 alpha-2 code")

    @property
    def address_lines(self) -> tuple[str, ...]:
        return tuple(p for p in (self.street, f"{self.postcode} {self.city}".strip()) if p)

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in _PARTY_FIELDS}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Party:
        def text(key: str) -> str | None:
            value = data.get(key)
            return None if value is None else str(value)

        return cls(
            name=str(data["name"]), street=str(data["street"]), postcode=str(data["postcode"]),
            city=str(data["city"]), country=str(data["country"]), vat_id=text("vat_id"),
            registration=text("registration"), email=text("email"), phone=text("phone"),
            iban=text("iban"),
        )  # fmt: skip


_PARTY_FIELDS = ("name", "street", "postcode", "city", "country", "vat_id", "registration",
                 "email", "phone", "iban")  # fmt: skip


@dataclass(frozen=True, slots=True)
class DocumentLine:
    """One priced component: quantity × unit price (excl. VAT), VAT rate, rounded amounts.

    `net`, `vat` and `gross` are already rounded to the currency's minor unit (the rounding
    point for documents), so `gross == net + vat` exactly.
    """

    kind: ComponentKind
    description: str
    quantity: Decimal
    unit: str  # kWh | h | session
    unit_price: Decimal  # excl. VAT, as the tariff states it
    vat_rate: Decimal  # percent, e.g. Decimal("19")
    net: Decimal
    vat: Decimal
    gross: Decimal
    vat_category: str = ""  # UNTDID 5305; "" = S above 0 %, Z at 0 %

    def __post_init__(self) -> None:
        if self.gross != self.net + self.vat:
            raise DocumentError(f"line.gross: {self.gross} is not net {self.net} + vat {self.vat}")
        if not self.vat_category:
            object.__setattr__(self, "vat_category", "S" if self.vat_rate > 0 else "Z")
        VatCategory(self.vat_category)


@dataclass(frozen=True, slots=True)
class SessionBlock:
    """One charging session as a document shows it, with its component lines."""

    reference: str  # session id
    cdr_id: str | None
    station_id: str
    evse_id: str
    address: str
    time_zone: str
    start: datetime  # aware, UTC or any zone
    end: datetime
    charging_hours: Decimal
    parking_hours: Decimal
    energy_kwh: Decimal
    signed_meter: bool
    lines: tuple[DocumentLine, ...]

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise DocumentError(f"session {self.reference}: start and end need a time zone")
        if self.end < self.start:
            raise DocumentError(f"session {self.reference}: end is before start")

    @property
    def local_start(self) -> datetime:
        return self.start.astimezone(ZoneInfo(self.time_zone))

    @property
    def local_end(self) -> datetime:
        return self.end.astimezone(ZoneInfo(self.time_zone))

    @property
    def net(self) -> Decimal:
        return sum((line.net for line in self.lines), Decimal(0))

    @property
    def vat(self) -> Decimal:
        return sum((line.vat for line in self.lines), Decimal(0))

    @property
    def gross(self) -> Decimal:
        return sum((line.gross for line in self.lines), Decimal(0))


@dataclass(frozen=True, slots=True)
class VatSubtotal:
    """Taxable amount and VAT of one category and rate (EN 16931 BG-23), with the exemption
    reason (BT-120 text, BT-121 VATEX code) where the category is not S."""

    rate: Decimal
    taxable: Decimal
    vat: Decimal
    category: str = ""  # "" = S above 0 %, Z at 0 %
    exemption_code: str | None = None
    exemption_reason: str | None = None

    def __post_init__(self) -> None:
        if not self.category:
            object.__setattr__(self, "category", "S" if self.rate > 0 else "Z")
        VatCategory(self.category)

    @property
    def label(self) -> str:
        category = VatCategory(self.category)
        if category is VatCategory.STANDARD:
            return f"{self.rate.normalize():f} %"
        if category is VatCategory.NOT_SUBJECT:
            return category.label
        return f"{self.rate.normalize():f} % ({category.label.lower()})"


@dataclass(frozen=True, slots=True)
class Totals:
    """Document totals: net, VAT per rate and in all, gross (what the customer pays)."""

    net: Decimal
    vat: Decimal
    gross: Decimal
    by_rate: tuple[VatSubtotal, ...]


@dataclass(frozen=True, slots=True)
class Document:
    """An issued (or about-to-be-numbered) receipt, invoice or credit note in one currency."""

    doc_type: DocumentType
    number: str  # "" until the service numbers it
    issued_at: datetime
    issue_date: date
    currency: str
    issuer: Party
    customer: Party
    operator_id: str
    account_id: str
    period_start: date
    period_end: date
    sessions: tuple[SessionBlock, ...]
    totals: Totals
    language: str = "en"
    due_date: date | None = None
    paid: bool = False  # receipts: already paid (wallet or card)
    payment_note: str = ""
    payment_means: str = "58"  # UNTDID 4461: 58 SEPA transfer, 59 direct debit, 48 card
    #: what the payment means needs: card brand/last4, mandate and creditor id, where a
    #: credit note's money goes (`refund_to`); never a full card number
    payment_details: dict[str, str] = field(default_factory=dict, compare=False)
    supply_country: str = ""  # where the sessions were supplied and taxed (the stations')
    corrects_number: str | None = None  # credit notes: the invoice/receipt corrected
    corrects_issue_date: date | None = None
    reason: str = ""  # credit notes: why
    proof: dict[str, Any] | None = field(default=None, compare=False)
    source_key: str = ""  # idempotency: one document per session / account+period / refund

    def numbered(self, number: str) -> Document:
        return replace(self, number=number)

    @property
    def lines(self) -> tuple[DocumentLine, ...]:
        return tuple(line for block in self.sessions for line in block.lines)

    @property
    def simplified(self) -> bool:
        """A simplified invoice (VAT Directive art. 226b): the customer has no address."""
        return not self.customer.street and not self.customer.city

    @property
    def signed_sessions(self) -> int:
        return sum(1 for block in self.sessions if block.signed_meter)
