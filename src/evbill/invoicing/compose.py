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
)
from evbill.invoicing.vat import VatTable, line_amounts, round_minor, totals_of
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


def session_block(session: ChargedSession, vat: VatTable) -> SessionBlock:
    """A session's document block: each charge rounded per line, VAT on the rounded net."""
    minor_unit(session.currency)
    lines = []
    for charge in session.charges:
        rate = vat.rate_for(session.country, charge.vat_rate)
        amounts = line_amounts(charge.amount_excl_vat, rate, session.currency)
        lines.append(DocumentLine(
            kind=charge.kind, description=_describe(charge, session),
            quantity=charge.quantity, unit=charge.unit, unit_price=charge.unit_price,
            vat_rate=rate, net=amounts.net, vat=amounts.vat, gross=amounts.gross,
        ))  # fmt: skip
    return SessionBlock(
        reference=session.reference, cdr_id=session.cdr_id, station_id=session.station_id,
        evse_id=session.evse_id, address=session.address, time_zone=session.time_zone,
        start=session.start, end=session.end, charging_hours=session.charging_hours,
        parking_hours=session.parking_hours, energy_kwh=session.energy_kwh,
        signed_meter=session.signed_meter, lines=tuple(lines),
    )  # fmt: skip


def _document(
    doc_type: DocumentType, issue: Issue, currency: str, blocks: Sequence[SessionBlock],
    period: tuple[date, date], source_key: str, **extra: Any,
) -> Document:
    return Document(
        doc_type=doc_type, number="", issued_at=issue.issued_at, issue_date=issue.issue_date,
        currency=currency, issuer=issue.issuer, customer=issue.customer,
        operator_id=issue.operator_id, account_id=issue.account_id,
        period_start=period[0], period_end=period[1], sessions=tuple(blocks),
        totals=totals_of((line for b in blocks for line in b.lines), currency),
        source_key=source_key, **extra,
    )  # fmt: skip


def compose_receipt(
    issue: Issue, session: ChargedSession, *, payment_note: str,
    proof: dict[str, Any] | None = None, payment_means: str = "48",
) -> Document:
    """A paid session's receipt (a simplified, already-settled invoice)."""
    block = session_block(session, issue.vat)
    supply = (block.local_start.date(), block.local_end.date())
    return _document(DocumentType.RECEIPT, issue, session.currency, [block], supply,
                     f"receipt:{session.reference}", paid=True, payment_note=payment_note,
                     proof=proof, payment_means=payment_means)  # fmt: skip


def compose_invoice(
    issue: Issue, period: BillingPeriod, sessions: Sequence[ChargedSession], *,
    currency: str, payment_days: int = 14, payment_note: str = "", payment_means: str = "58",
) -> Document:
    """A postpaid account's monthly invoice: one block per session, oldest first."""
    if not sessions:
        raise DocumentError(f"sessions: account {issue.account_id} has none in {period}")
    for session in sessions:
        if session.currency != currency:
            raise DocumentError(
                f"currency: session {session.reference} is in {session.currency}, "
                f"the invoice in {currency}"
            )
    ordered = sorted(sessions, key=lambda s: (s.start, s.reference))
    blocks = [session_block(s, issue.vat) for s in ordered]
    key = f"invoice:{issue.account_id}:{period}:{currency}"
    return _document(DocumentType.INVOICE, issue, currency, blocks,
                     (period.first_day, period.last_day), key,
                     due_date=issue.issue_date + timedelta(days=payment_days),
                     payment_note=payment_note, payment_means=payment_means)  # fmt: skip


def compose_credit_note(
    issue: Issue, original: Document, *, refund_key: str, reason: str,
    amount: Decimal | None = None, session: str | None = None,
) -> Document:
    """Credit note for a refund of `original` (or of its one `session`): in full, or `amount`.

    A partial refund is split like the payment's refund: each VAT rate's share of the gross,
    its VAT rounded half up, so the VAT given back matches what the ledger reverses.
    """
    if original.doc_type is DocumentType.CREDIT_NOTE:
        raise DocumentError("corrects: a credit note corrects an invoice or receipt")
    if not original.number:
        raise DocumentError("corrects: the original document has no number yet")
    blocks = [b for b in original.sessions if session is None or b.reference == session]
    if not blocks:
        raise DocumentError(f"session: {session} is not on {original.number}")
    extra: dict[str, Any] = {"corrects_number": original.number,
                             "corrects_issue_date": original.issue_date, "reason": reason}
    period = (original.period_start, original.period_end)
    key = f"credit:{refund_key}"
    gross = sum((b.gross for b in blocks), Decimal(0))
    if amount is not None and round_minor(amount, original.currency) != gross:
        blocks = [_refund_block(original, blocks, round_minor(amount, original.currency), reason)]
    return _document(DocumentType.CREDIT_NOTE, issue, original.currency, blocks, period, key,
                     **extra)  # fmt: skip


def _refund_block(
    original: Document, blocks: Sequence[SessionBlock], amount: Decimal, reason: str
) -> SessionBlock:
    currency = original.currency
    subtotals = totals_of((line for b in blocks for line in b.lines), currency).by_rate
    gross = sum((v.taxable + v.vat for v in subtotals), Decimal(0))
    if not 0 < amount <= gross:
        raise DocumentError(f"amount: {amount} is not between 0 and the credited {gross}")
    share = amount / gross
    lines: list[DocumentLine] = []
    left = amount
    for n, subtotal in enumerate(subtotals):
        last = n == len(subtotals) - 1
        part = left if last else round_minor((subtotal.taxable + subtotal.vat) * share, currency)
        vat = round_minor(subtotal.vat * share, currency)
        lines.append(DocumentLine(
            kind=ComponentKind.REFUND, description=f"Refund on {original.number}: {reason}",
            quantity=Decimal(1), unit="session", unit_price=part - vat,
            vat_rate=subtotal.rate, net=part - vat, vat=vat, gross=part,
        ))  # fmt: skip
        left -= part
    return replace(blocks[0], lines=tuple(lines),
                   reference=", ".join(b.reference for b in blocks))


def payment_split(
    session: ChargedSession, vat: VatTable
) -> tuple[Decimal, tuple[tuple[str, str, Decimal], ...]]:
    """(net, ((country, rate, VAT), …)) of a session by the document rules: what payments must
    capture and post to the ledger so that the receipt or invoice and the ledger agree."""
    totals = session_block(session, vat).lines
    summary = totals_of(totals, session.currency)
    return summary.net, tuple(
        (session.country, format(v.rate.normalize(), "f"), v.vat) for v in summary.by_rate
    )
