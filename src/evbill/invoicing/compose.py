"""Build documents from charged sessions: receipt per session, monthly invoice, credit note.

Pure functions from values to a `Document` (unnumbered: the service numbers it while holding
the series lock). Sessions come in as `ChargedSession`, a plain value the store adapter or the
rating engine's `PricedCdr.lines` is turned into, so this module needs neither.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from evbill.invoicing.model import (
    ComponentKind,
    Document,
    DocumentError,
    DocumentLine,
    DocumentType,
    Party,
    SessionBlock,
    Totals,
    VatCategory,
)
from evbill.invoicing.vat import (
    DEFAULT_EXEMPTIONS,
    VatTable,
    allocate_vat,
    line_amounts,
    round_minor,
    totals_of,
)
from evbill.invoicing.vat_rules import Taxation, VatRules
from evbill.money import minor_unit

__all__ = [
    "BillingPeriod",
    "Charge",
    "ChargedSession",
    "Issue",
    "charges_from_lines",
    "compose_credit_note",
    "compose_invoice",
    "compose_receipt",
    "payment_split",
    "session_block",
]

_UNITS = {ComponentKind.ENERGY: "kWh", ComponentKind.TIME: "h", ComponentKind.PARKING_TIME: "h",
          ComponentKind.RESERVATION_TIME: "h"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Charge:
    """One rated component of a session: billed quantity, unit price and exact net amount."""

    kind: ComponentKind
    quantity: Decimal
    unit_price: Decimal
    amount_excl_vat: Decimal  # exact, before the document's rounding
    vat_rate: Decimal | None = None  # None: the country's standard rate

    @property
    def unit(self) -> str:
        return _UNITS.get(self.kind, "session")


class PricedLineLike(Protocol):
    """What `evbill.rating.types.PricedLine` offers (kept structural: rating is its own layer)."""

    @property
    def kind(self) -> str: ...
    @property
    def quantity(self) -> Decimal: ...
    @property
    def unit_price(self) -> Decimal: ...
    @property
    def vat(self) -> Decimal | None: ...
    @property
    def amount_excl_vat(self) -> Decimal: ...


def charges_from_lines(lines: Iterable[PricedLineLike]) -> tuple[Charge, ...]:
    """`PricedCdr.lines` → charges."""
    return tuple(
        Charge(kind=ComponentKind(str(line.kind)), quantity=line.quantity,
               unit_price=line.unit_price, amount_excl_vat=line.amount_excl_vat,
               vat_rate=line.vat)
        for line in lines
    )


@dataclass(frozen=True, slots=True)
class ChargedSession:
    """A finished, priced charging session with what a document shows about it."""

    reference: str
    station_id: str
    evse_id: str
    address: str
    country: str  # of the station: the place of supply for VAT
    time_zone: str
    start: datetime
    end: datetime
    charging_hours: Decimal
    parking_hours: Decimal
    energy_kwh: Decimal
    signed_meter: bool
    currency: str
    charges: tuple[Charge, ...]
    cdr_id: str | None = None


@dataclass(frozen=True, slots=True)
class Issue:
    """Who issues to whom, when, and under which VAT table."""

    issuer: Party
    customer: Party
    operator_id: str
    account_id: str
    issued_at: datetime
    time_zone: str  # the issuer's: decides the issue date
    vat: VatTable
    rules: VatRules | None = None  # None: home country and VAT id of the issuer only

    @property
    def vat_rules(self) -> VatRules:
        return self.rules or VatRules.for_issuer(self.issuer, self.vat)

    @property
    def issue_date(self) -> date:
        if self.issued_at.tzinfo is None:
            raise DocumentError("issued_at: needs a time zone")
        return self.issued_at.astimezone(ZoneInfo(self.time_zone)).date()


_PERIOD = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True, slots=True)
class BillingPeriod:
    """A calendar month (`2026-10`) in the operator's time zone."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> BillingPeriod:
        match = _PERIOD.fullmatch(text.strip())
        if match is None or not 1 <= int(match.group(2)) <= 12:
            raise DocumentError(f"period: {text!r} is not a month as YYYY-MM")
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return self.next().first_day - timedelta(days=1)

    def next(self) -> BillingPeriod:
        return BillingPeriod(self.year + self.month // 12, self.month % 12 + 1)

    def bounds(self, time_zone: str) -> tuple[datetime, datetime]:
        """[start, end) of the month as aware datetimes in `time_zone`."""
        zone = ZoneInfo(time_zone)
        start = datetime(self.year, self.month, 1, tzinfo=zone)
        nxt = self.next()
        return start, datetime(nxt.year, nxt.month, 1, tzinfo=zone)


def _describe(charge: Charge, session: ChargedSession) -> str:
    return f"{charge.kind.label} · session {session.reference} · {session.station_id}"


def session_block(session: ChargedSession, vat: VatTable | Taxation) -> SessionBlock:
    """A session's document block: each charge's net rounded per line, at the category and
    rate of the document's taxation (a bare `VatTable`: standard VAT of the session's country).
    Line VAT here is provisional: `_document` allocates the VAT computed per rate."""
    minor_unit(session.currency)
    taxation = vat if isinstance(vat, Taxation) else Taxation(
        session.country, VatCategory.STANDARD, None, rates=vat)
    lines = []
    for charge in session.charges:
        category, rate = taxation.line(charge.vat_rate)
        amounts = line_amounts(charge.amount_excl_vat, rate, session.currency)
        lines.append(DocumentLine(
            kind=charge.kind, description=_describe(charge, session),
            quantity=charge.quantity, unit=charge.unit, unit_price=charge.unit_price,
            vat_rate=rate, net=amounts.net, vat=amounts.vat, gross=amounts.gross,
            vat_category=category,
        ))  # fmt: skip
    return SessionBlock(
        reference=session.reference, cdr_id=session.cdr_id, station_id=session.station_id,
        evse_id=session.evse_id, address=session.address, time_zone=session.time_zone,
        start=session.start, end=session.end, charging_hours=session.charging_hours,
        parking_hours=session.parking_hours, energy_kwh=session.energy_kwh,
        signed_meter=session.signed_meter, lines=tuple(lines),
    )  # fmt: skip


def with_document_vat(
    blocks: Sequence[SessionBlock], currency: str,
    exemptions: Any = DEFAULT_EXEMPTIONS, *, split: bool = False,
) -> tuple[tuple[SessionBlock, ...], Totals]:  # fmt: skip
    """Totals with VAT per category and rate on the sum of the line nets (BR-CO-17), and the
    blocks with each line's VAT set to its share of it (`split`: line VAT given, kept)."""
    lines = [line for b in blocks for line in b.lines]
    totals = totals_of(lines, currency, exemptions, split=split)
    if split:
        return tuple(blocks), totals
    allocated = iter(allocate_vat(lines, totals, currency))
    out = tuple(replace(b, lines=tuple(next(allocated) for _ in b.lines)) for b in blocks)
    return out, totals


def _document(
    doc_type: DocumentType, issue: Issue, currency: str, blocks: Sequence[SessionBlock],
    period: tuple[date, date], source_key: str, *, issuer: Party | None = None,
    customer: Party | None = None, exemptions: Any = DEFAULT_EXEMPTIONS, split: bool = False,
    **extra: Any,
) -> Document:
    final, totals = with_document_vat(blocks, currency, exemptions, split=split)
    return Document(
        doc_type=doc_type, number="", issued_at=issue.issued_at, issue_date=issue.issue_date,
        currency=currency, issuer=issuer or issue.issuer, customer=customer or issue.customer,
        operator_id=issue.operator_id, account_id=issue.account_id,
        period_start=period[0], period_end=period[1], sessions=final, totals=totals,
        source_key=source_key, **extra,
    )  # fmt: skip


def taxation_of(issue: Issue, country: str) -> Taxation:
    """The document's VAT treatment: taxed where the station is, B2B only for a named buyer."""
    named = issue.customer.vat_id is not None
    return issue.vat_rules.taxation(country, issue.customer if named else None)


def compose_receipt(
    issue: Issue, session: ChargedSession, *, payment_note: str,
    proof: dict[str, Any] | None = None, payment_means: str = "48",
    payment_details: dict[str, str] | None = None,
) -> Document:
    """A paid session's receipt (an already-settled invoice; simplified, art. 226b, when the
    payer is anonymous)."""
    taxation = taxation_of(issue, session.country)
    block = session_block(session, taxation)
    supply = (block.local_start.date(), block.local_end.date())
    return _document(DocumentType.RECEIPT, issue, session.currency, [block], supply,
                     f"receipt:{session.reference}", paid=True, payment_note=payment_note,
                     proof=proof, payment_means=payment_means,
                     payment_details=dict(payment_details or {}),
                     supply_country=taxation.country, issuer=taxation.seller(issue.issuer),
                     exemptions=taxation.exemptions)  # fmt: skip


def invoice_key(account: str, period: BillingPeriod, currency: str, country: str,
                home: str) -> str:  # fmt: skip
    """`invoice:<account>:<YYYY-MM>:<currency>`, plus `:<country>` when taxed abroad."""
    base = f"invoice:{account}:{period}:{currency}"
    return base if country == home else f"{base}:{country}"


def compose_invoice(
    issue: Issue, period: BillingPeriod, sessions: Sequence[ChargedSession], *,
    currency: str, payment_days: int = 14, payment_note: str = "", payment_means: str = "58",
    payment_details: dict[str, str] | None = None,
) -> Document:
    """A postpaid account's monthly invoice for one taxing country: one block per session,
    oldest first. Sessions taxed in several countries go on one invoice per country."""
    if not sessions:
        raise DocumentError(f"sessions: account {issue.account_id} has none in {period}")
    countries = sorted({s.country for s in sessions})
    if len(countries) > 1:
        raise DocumentError(f"sessions: taxed in {', '.join(countries)}; one invoice per "
                            "taxing country (never several countries' VAT on one document)")
    for session in sessions:
        if session.currency != currency:
            raise DocumentError(
                f"currency: session {session.reference} is in {session.currency}, "
                f"the invoice in {currency}"
            )
    taxation = taxation_of(issue, countries[0])
    ordered = sorted(sessions, key=lambda s: (s.start, s.reference))
    blocks = [session_block(s, taxation) for s in ordered]
    key = invoice_key(issue.account_id, period, currency, countries[0], issue.issuer.country)
    return _document(DocumentType.INVOICE, issue, currency, blocks,
                     (period.first_day, period.last_day), key,
                     due_date=issue.issue_date + timedelta(days=payment_days),
                     payment_note=payment_note, payment_means=payment_means,
                     payment_details=dict(payment_details or {}),
                     supply_country=taxation.country, issuer=taxation.seller(issue.issuer),
                     exemptions=taxation.exemptions)  # fmt: skip


def compose_credit_note(
    issue: Issue, original: Document, *, refund_key: str, reason: str,
    amount: Decimal | None = None, session: str | None = None, payment_means: str = "58",
    payment_note: str = "", payment_details: dict[str, str] | None = None,
) -> Document:
    """Credit note for a refund of `original` (or of its one `session`): in full, or `amount`.

    Seller and buyer are the original's (same VAT id, same taxation). A session of an invoice
    is credited with the VAT it was charged (on its own nets, as its payment and the ledger
    took it), not its share of the invoice's VAT (see `vat_rounding`). A partial refund is
    shared over the refunded sessions by their gross, and within a session split per VAT
    category and rate like the payment's refund (each rate's VAT rounded half up), so the VAT
    given back matches what the ledger reverses; each session keeps its own data.
    """
    if original.doc_type is DocumentType.CREDIT_NOTE:
        raise DocumentError("corrects: a credit note corrects an invoice or receipt")
    if not original.number:
        raise DocumentError("corrects: the original document has no number yet")
    blocks = [b for b in original.sessions if session is None or b.reference == session]
    if not blocks:
        raise DocumentError(f"session: {session} is not on {original.number}")
    extra: dict[str, Any] = {"corrects_number": original.number,
                             "corrects_issue_date": original.issue_date, "reason": reason,
                             "payment_means": payment_means, "payment_note": payment_note,
                             "payment_details": dict(payment_details or {}),
                             "supply_country": original.supply_country}
    exemptions = {v.category: (v.exemption_code, v.exemption_reason or "")
                  for v in original.totals.by_rate if v.exemption_reason}
    period = (original.period_start, original.period_end)
    key = f"credit:{refund_key}"
    if session is not None and original.doc_type is DocumentType.INVOICE:
        # The session was charged, booked and is refunded with its own VAT (on its own nets);
        # the invoice shows its share of the invoice's VAT instead, and the difference stays in
        # the invoice's rounding adjustment. Credit what the refund gives back.
        blocks = [with_document_vat([b], original.currency)[0][0] for b in blocks]
    gross = sum((b.gross for b in blocks), Decimal(0))
    if amount is not None and round_minor(amount, original.currency) != gross:
        blocks = _refund_blocks(original, blocks, round_minor(amount, original.currency),
                                reason)
    # the lines' VAT is given: what the original charged for them, or the refund's split
    return _document(DocumentType.CREDIT_NOTE, issue, original.currency, blocks, period, key,
                     issuer=original.issuer, customer=original.customer,
                     exemptions={**DEFAULT_EXEMPTIONS, **exemptions}, split=True,
                     **extra)  # fmt: skip


def _refund_blocks(
    original: Document, blocks: Sequence[SessionBlock], amount: Decimal, reason: str
) -> list[SessionBlock]:
    currency = original.currency
    gross = sum((b.gross for b in blocks), Decimal(0))
    if not 0 < amount <= gross:
        raise DocumentError(f"amount: {amount} is not between 0 and the credited {gross}")
    out: list[SessionBlock] = []
    left = amount
    for n, block in enumerate(blocks):
        part = left if n == len(blocks) - 1 else round_minor(amount * block.gross / gross,
                                                              currency)
        left -= part
        if part:
            out.append(_refund_block(original, block, part, reason))
    return out


def _refund_block(original: Document, block: SessionBlock, amount: Decimal,
                  reason: str) -> SessionBlock:  # fmt: skip
    currency = original.currency
    groups: dict[tuple[str, Decimal], tuple[Decimal, Decimal]] = {}
    for line in block.lines:
        net, vat = groups.get((line.vat_category, line.vat_rate), (Decimal(0), Decimal(0)))
        groups[(line.vat_category, line.vat_rate)] = (net + line.net, vat + line.vat)
    share = amount / block.gross
    lines: list[DocumentLine] = []
    left = amount
    ordered = sorted(groups.items(), key=lambda g: -g[0][1])
    for n, ((category, rate), (net, vat_total)) in enumerate(ordered):
        last = n == len(ordered) - 1
        part = left if last else round_minor((net + vat_total) * share, currency)
        vat = round_minor(vat_total * share, currency)
        lines.append(DocumentLine(
            kind=ComponentKind.REFUND, description=f"Refund on {original.number}: {reason}",
            quantity=Decimal(1), unit="session", unit_price=part - vat,
            vat_rate=rate, net=part - vat, vat=vat, gross=part, vat_category=category,
        ))  # fmt: skip
        left -= part
    return replace(block, lines=tuple(lines))


def payment_split(
    session: ChargedSession, vat: VatTable | VatRules, customer: Party | None = None,
) -> tuple[Decimal, tuple[tuple[str, str, Decimal], ...]]:
    """(net, ((country, rate, VAT), …)) of a session by the document rules: what payments must
    capture and post to the ledger so that the receipt or invoice and the ledger agree.
    With `VatRules`, the session is taxed as its document will be (station's country,
    reverse charge for `customer`'s VAT id, exemption, not subject)."""
    if isinstance(vat, VatRules):
        named = customer if customer is not None and customer.vat_id else None
        taxation: VatTable | Taxation = vat.taxation(session.country, named)
    else:
        taxation = vat
    totals = session_block(session, taxation).lines
    summary = totals_of(totals, session.currency)
    return summary.net, tuple(
        (session.country, format(v.rate.normalize(), "f"), v.vat) for v in summary.by_rate
    )
