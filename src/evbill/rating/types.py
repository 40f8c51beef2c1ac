"""Values in and out of rating: meter samples, priced lines, and the priced CDR."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from evbill.money import Money, minor_unit

if TYPE_CHECKING:
    from evbill.tariffs.model import Tariff

__all__ = [
    "LineKind",
    "MeterSample",
    "Price",
    "PricedCdr",
    "PricedLine",
    "PricedPeriod",
    "RatingError",
]


class RatingError(ValueError):
    """A session that cannot be priced; the message names the field or rule and the reason."""


@dataclass(frozen=True, slots=True)
class MeterSample:
    """One reading of a charging timeline. Energy is the cumulative import register in Wh.

    `power_w`/`current_a` hold from this sample until the next one; `charging` says whether
    energy was being transferred (False = parked, connected but not charging).
    """

    at: datetime
    energy_wh: Decimal
    power_w: Decimal | None = None
    current_a: Decimal | None = None
    charging: bool = True


@dataclass(frozen=True, slots=True)
class Price:
    """An OCPI Price: amounts excluding and including VAT."""

    excl_vat: Money
    incl_vat: Money

    def __add__(self, other: Price) -> Price:
        return Price(self.excl_vat + other.excl_vat, self.incl_vat + other.incl_vat)

    def round_to_minor(self) -> Price:
        return Price(self.excl_vat.round_to_minor(), self.incl_vat.round_to_minor())


class LineKind(StrEnum):
    """What a breakdown line charges for."""

    FLAT = "FLAT"
    ENERGY = "ENERGY"
    TIME = "TIME"
    PARKING_TIME = "PARKING_TIME"
    RESERVATION_FLAT = "RESERVATION_FLAT"
    RESERVATION_TIME = "RESERVATION_TIME"
    MIN_PRICE = "MIN_PRICE"  # adjustment up to the tariff's min_price
    MAX_PRICE = "MAX_PRICE"  # adjustment down to the tariff's max_price


_UNITS = {
    LineKind.ENERGY: "kWh", LineKind.TIME: "h", LineKind.PARKING_TIME: "h",
    LineKind.RESERVATION_TIME: "h",
}  # fmt: skip


# The three result types below are frozen slots dataclasses whose `__init__` is written out to
# store each field through its slot descriptor (`_setters`): the generated frozen `__init__`
# goes through `object.__setattr__` per field, several times slower, and every priced session
# builds a PricedCdr, a PricedPeriod per period and a PricedLine per line. Same fields, same
# defaults, no checks skipped (the generated one has none either).
_Setter = Callable[[object, Any], None]


def _setters(cls: type) -> tuple[_Setter, ...]:
    """The slot setters of a dataclass, in field order (the order its `__init__` takes)."""
    return tuple(cls.__dict__[f.name].__set__ for f in fields(cls))


@dataclass(frozen=True, slots=True, init=False)
class PricedLine:
    """One invoice line: billed quantity × unit price (excl. VAT), VAT rate, exact amounts.

    `quantity` is what was billed after step_size; `measured` what the session used.
    Quantities are in `unit` (kWh, h, or 1 per session); amounts are exact, and
    `rounded()` gives the per-line minor-unit amounts a document prints.
    """

    kind: LineKind
    quantity: Decimal
    measured: Decimal
    unit_price: Decimal
    vat: Decimal | None
    amount_excl_vat: Decimal
    amount_incl_vat: Decimal
    currency: str
    element_index: int | None = None
    step_size: int | None = None

    def __init__(self, kind: LineKind, quantity: Decimal, measured: Decimal,
                 unit_price: Decimal, vat: Decimal | None, amount_excl_vat: Decimal,
                 amount_incl_vat: Decimal, currency: str, element_index: int | None = None,
                 step_size: int | None = None) -> None:
        s0, s1, s2, s3, s4, s5, s6, s7, s8, s9 = _LINE_SET
        s0(self, kind)
        s1(self, quantity)
        s2(self, measured)
        s3(self, unit_price)
        s4(self, vat)
        s5(self, amount_excl_vat)
        s6(self, amount_incl_vat)
        s7(self, currency)
        s8(self, element_index)
        s9(self, step_size)

    @property
    def unit(self) -> str:
        return _UNITS.get(self.kind, "session")

    @property
    def amount(self) -> Price:
        return Price(Money(self.amount_excl_vat, self.currency),
                     Money(self.amount_incl_vat, self.currency))

    def rounded(self) -> Price:
        """The line rounded to the currency's minor unit (ROUND_HALF_UP): what documents print."""
        return self.amount.round_to_minor()


@dataclass(frozen=True, slots=True, init=False)
class PricedPeriod:
    """One OCPI ChargingPeriod: start, dimensions (type → volume), the tariff that priced it."""

    start: datetime
    dimensions: tuple[tuple[str, Decimal], ...]
    tariff_id: str

    def __init__(self, start: datetime, dimensions: tuple[tuple[str, Decimal], ...],
                 tariff_id: str) -> None:
        s0, s1, s2 = _PERIOD_SET
        s0(self, start)
        s1(self, dimensions)
        s2(self, tariff_id)


@dataclass(frozen=True, slots=True, init=False)
class PricedCdr:
    """A priced session. Amounts are exact; `to_ocpi()` rounds to 4 decimals as peers exchange."""

    tariff: Tariff
    cdr_id: str | None
    start: datetime
    end: datetime
    periods: tuple[PricedPeriod, ...]
    lines: tuple[PricedLine, ...]
    total_energy: Decimal  # kWh
    total_time: Decimal  # h, charging + parking (reservation time excluded)
    total_parking_time: Decimal  # h
    source: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    def __init__(self, tariff: Tariff, cdr_id: str | None, start: datetime, end: datetime,
                 periods: tuple[PricedPeriod, ...], lines: tuple[PricedLine, ...],
                 total_energy: Decimal, total_time: Decimal, total_parking_time: Decimal,
                 source: Mapping[str, Any] | None = None) -> None:
        s0, s1, s2, s3, s4, s5, s6, s7, s8, s9 = _CDR_SET
        s0(self, tariff)
        s1(self, cdr_id)
        s2(self, start)
        s3(self, end)
        s4(self, periods)
        s5(self, lines)
        s6(self, total_energy)
        s7(self, total_time)
        s8(self, total_parking_time)
        s9(self, source)

    @property
    def currency(self) -> str:
        return self.tariff.currency

    def _sum(self, kinds: frozenset[LineKind]) -> Price:
        excl = incl = Decimal(0)
        for line in self.lines:
            if line.kind in kinds:
                excl += line.amount_excl_vat
                incl += line.amount_incl_vat
        return Price(Money(excl, self.currency), Money(incl, self.currency))

    @property
    def total_cost(self) -> Price:
        """Exact total of every line, min/max price adjustments included."""
        return self._sum(_ALL)

    @property
    def document_total(self) -> Price:
        """Sum of the per-line rounded amounts: the figure an invoice or receipt adds up to."""
        excl = incl = Decimal(0)
        q = Decimal(1).scaleb(-minor_unit(self.currency))
        for line in self.lines:
            excl += line.amount_excl_vat.quantize(q, ROUND_HALF_UP)
            incl += line.amount_incl_vat.quantize(q, ROUND_HALF_UP)
        return Price(Money(excl, self.currency), Money(incl, self.currency))

    @property
    def total_fixed_cost(self) -> Price:
        return self._sum(frozenset({LineKind.FLAT}))

    @property
    def total_energy_cost(self) -> Price:
        return self._sum(frozenset({LineKind.ENERGY}))

    @property
    def total_time_cost(self) -> Price:
        return self._sum(frozenset({LineKind.TIME}))

    @property
    def total_parking_cost(self) -> Price:
        return self._sum(frozenset({LineKind.PARKING_TIME}))

    @property
    def total_reservation_cost(self) -> Price:
        return self._sum(frozenset({LineKind.RESERVATION_FLAT, LineKind.RESERVATION_TIME}))

    def to_ocpi(self, *, places: int | None = 4, breakdown: bool = False) -> dict[str, Any]:
        """OCPI CDR fields with Decimal numbers (`evbill.tariffs.dumps` writes them exactly)."""
        from evbill.rating.output import cdr_to_ocpi

        return cdr_to_ocpi(self, places=places, breakdown=breakdown)


_ALL = frozenset(LineKind)
_LINE_SET: Final = _setters(PricedLine)
_PERIOD_SET: Final = _setters(PricedPeriod)
_CDR_SET: Final = _setters(PricedCdr)
