"""The audit's pure core: what each source says about a session, and where they disagree.

Four sources speak about every session in a currency:

- **rated**: the priced CDR (exact amounts, 4+ decimals; no VAT split for min/max price
  adjustments, so only its net total is compared, within its rounding allowance);
- **charged**: the payment charge (card capture, wallet spend or postpaid posting), net and
  VAT per rate, and what was refunded of it;
- **documented**: the lines of the receipt or invoice (net and VAT per rate) and of credit notes;
- **booked**: the ledger's sale postings (revenue net, VAT payable per rate) and refund postings.

A source that has nothing for a session says zero: a missing capture, document or posting
shows as a disagreement with the sources that do have the amount.

An invoice over several postpaid sessions takes VAT once per rate on the sum of its line nets
(EN 16931 BR-CO-17) and shares it out over its lines, while each session was charged and
booked with its own VAT; the difference is booked when the invoice is issued (a `vat_rounding`
ledger transaction). So for a session on an invoice, VAT is compared per session between the
charge and the ledger only, and per invoice and rate: documented = charged + adjustment =
booked + adjustment (`compare_document`). Nets stay per session; receipts stay per session.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Final

from evbill.money import minor_unit

__all__ = ["AuditReport", "DocumentAudit", "Figures", "Mismatch", "SessionAudit", "Source",
           "compare_document", "compare_session", "rate_key"]  # fmt: skip

ZERO: Final = Decimal(0)


class Source(StrEnum):
    RATED = "rated"
    CHARGED = "charged"
    DOCUMENTED = "documented"
    BOOKED = "booked"


def rate_key(rate: Decimal | str) -> str:
    """One spelling per VAT rate: `19`, `7.7`, `0`."""
    value = Decimal(rate)
    return "0" if value.is_zero() else f"{value.normalize():f}"


@dataclass(slots=True)
class Figures:
    """What one source says about one session in one currency (all positive amounts)."""

    net: Decimal = ZERO
    vat: dict[str, Decimal] = field(default_factory=dict)  # per rate_key
    refund_gross: Decimal = ZERO
    refund_vat: dict[str, Decimal] = field(default_factory=dict)
    present: bool = False  # the source has a record for the session at all

    def add_vat(self, rate: Decimal | str, amount: Decimal, *, refund: bool = False) -> None:
        target = self.refund_vat if refund else self.vat
        key = rate_key(rate)
        target[key] = target.get(key, ZERO) + amount


@dataclass(slots=True)
class SessionAudit:
    """One session in one currency: each source's figures and the rated rounding allowance."""

    session: str
    currency: str
    figures: dict[Source, Figures] = field(default_factory=dict)
    #: How far the exact rated total may lie from the sum of the rounded lines: half a minor
    #: unit per line the CDR can have been rounded into.
    allowance: Decimal = ZERO
    #: The invoice the session is on: its VAT is then compared per invoice and rate.
    invoice: str | None = None

    def of(self, source: Source) -> Figures:
        if source not in self.figures:
            self.figures[source] = Figures()
        return self.figures[source]


@dataclass(frozen=True, slots=True)
class Mismatch:
    """Sources that disagree on one measure of one session (amount None: not recorded)."""

    session: str  # the session (CDR id), or the document number when `subject` is "document"
    currency: str
    measure: str  # "net", "VAT 19%", "refund", "refund VAT 19%"
    amounts: tuple[tuple[Source, Decimal | None], ...]
    subject: str = "session"
    note: str = ""

    def __str__(self) -> str:
        said = ", ".join(f"{source.value} {'none' if amount is None else f'{amount:f}'}"
                         for source, amount in self.amounts)  # fmt: skip
        return f"{self.subject} {self.session} {self.currency} {self.measure}: {said}{self.note}"


@dataclass(slots=True)
class DocumentAudit:
    """One invoice: its VAT per rate, its sessions' charged and booked VAT per rate (summed),
    and the rounding adjustment booked for it (None: no adjustment transaction)."""

    number: str
    currency: str
    documented: dict[str, Decimal] = field(default_factory=dict)
    charged: dict[str, Decimal] = field(default_factory=dict)
    booked: dict[str, Decimal] = field(default_factory=dict)
    adjustment: dict[str, Decimal] | None = None
    in_scope: bool = False

    @staticmethod
    def add(target: dict[str, Decimal], rate: Decimal | str, amount: Decimal) -> None:
        key = rate_key(rate)
        target[key] = target.get(key, ZERO) + amount

    def adjust(self, rate: Decimal | str, amount: Decimal) -> None:
        if self.adjustment is None:
            self.adjustment = {}
        self.add(self.adjustment, rate, amount)


@dataclass(slots=True)
class AuditReport:
    sessions: int = 0
    payments: int = 0
    documents: int = 0
    postings: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def summary(self) -> str:
        return (f"audit: {self.sessions} sessions, {self.payments} payments, {self.documents} "
                f"documents, {self.postings} ledger transactions: "
                f"{len(self.mismatches)} mismatches")


def _amount(figures: Figures | None, value: Decimal) -> Decimal | None:
    return value if figures is not None and figures.present else None


def _disagree(values: Iterable[Decimal]) -> bool:
    seen = list(values)
    return any(v != seen[0] for v in seen)


def _check(audit: SessionAudit, measure: str, sources: tuple[Source, ...],
           pick: Mapping[Source, Decimal]) -> Mismatch | None:  # fmt: skip
    if not _disagree(pick[s] for s in sources):
        return None
    return Mismatch(audit.session, audit.currency, measure,
                    tuple((s, _amount(audit.figures.get(s), pick[s])) for s in sources))


def _per_rate(audit: SessionAudit, label: str, sources: tuple[Source, ...],
              get: Mapping[Source, Mapping[str, Decimal]]) -> list[Mismatch]:  # fmt: skip
    rates = sorted({r for s in sources for r in get[s]}, key=Decimal, reverse=True)
    out = []
    for rate in rates:
        pick = {s: get[s].get(rate, ZERO) for s in sources}
        found = _check(audit, f"{label} {rate}%", sources, pick)
        if found is not None:
            out.append(found)
    return out


_PAID: Final = (Source.CHARGED, Source.DOCUMENTED, Source.BOOKED)


def compare_session(audit: SessionAudit) -> list[Mismatch]:
    """Every disagreement about one session: the net total (rated within its allowance), VAT
    per rate, refunds (gross) and the VAT they give back per rate. Nets are compared in total:
    the charge and the ledger book one net per session, only VAT per rate."""
    f = {s: audit.figures.get(s) or Figures() for s in Source}
    out: list[Mismatch] = []
    rated = f[Source.RATED].net
    paid = {s: f[s].net for s in _PAID}
    off_rated = any(abs(rated - v) > audit.allowance for v in paid.values())
    if _disagree(paid.values()) or off_rated:
        out.append(Mismatch(audit.session, audit.currency, "net", tuple(
            (s, _amount(audit.figures.get(s), f[s].net)) for s in Source)))
    taxed = (Source.CHARGED, Source.BOOKED) if audit.invoice else _PAID
    out += _per_rate(audit, "VAT", taxed, {s: f[s].vat for s in taxed})
    refund = {s: f[s].refund_gross for s in _PAID}
    found = _check(audit, "refund", _PAID, refund)
    if found is not None:
        out.append(found)
    out += _per_rate(audit, "refund VAT", (Source.DOCUMENTED, Source.BOOKED),
                     {s: f[s].refund_vat for s in (Source.DOCUMENTED, Source.BOOKED)})
    return out


def _shown(amount: Decimal, unit: Decimal) -> Decimal:
    """The amount in the currency's minor unit when it has no finer part (0.1 → 0.10)."""
    rounded = amount.quantize(unit)
    return rounded if rounded == amount else amount


def compare_document(doc: DocumentAudit) -> list[Mismatch]:
    """Every rate where the invoice's VAT differs from its sessions' charged VAT plus the
    rounding adjustment, or from their booked VAT plus the adjustment."""
    adjustment = doc.adjustment or {}
    unit = Decimal(1).scaleb(-minor_unit(doc.currency))
    rates = sorted({*doc.documented, *doc.charged, *doc.booked, *adjustment}, key=Decimal,
                   reverse=True)  # fmt: skip
    out = []
    for rate in rates:
        adj, stated, charged, booked = (_shown(amounts.get(rate, ZERO), unit) for amounts in (
            adjustment, doc.documented, doc.charged, doc.booked))  # fmt: skip
        if stated == charged + adj == booked + adj:
            continue
        shown = "none" if doc.adjustment is None or rate not in adjustment else f"{adj:f}"
        note = (f", rounding adjustment {shown} (documented must equal charged + adjustment "
                "= booked + adjustment)")
        out.append(Mismatch(doc.number, doc.currency, f"VAT {rate}%", (
            (Source.DOCUMENTED, stated), (Source.CHARGED, charged), (Source.BOOKED, booked)),
            subject="document", note=note))
    return out
