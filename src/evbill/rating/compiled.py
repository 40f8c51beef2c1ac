"""A tariff prepared once for rating: restrictions as plain numbers, candidates per dimension.

Compiled forms are cached by tariff identity (tariffs are immutable), so a service that rates many
sessions against the same `Tariff` object compiles it once.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from evbill.rating.segments import Segment
from evbill.rating.types import LineKind, PricedLine, RatingError
from evbill.tariffs.model import (
    PriceComponent,
    ReservationRestrictionType,
    Tariff,
    TariffDimensionType,
    TariffRestrictions,
)

__all__ = ["Candidate", "CompiledElement", "CompiledTariff", "compile_tariff", "zone_for"]

_THOUSAND: Final = Decimal(1000)
_CACHE_LIMIT: Final = 1024
_cache: dict[int, tuple[Tariff, CompiledTariff]] = {}


@lru_cache(maxsize=256)
def zone_for(tz: str) -> ZoneInfo:
    """The IANA zone, or RatingError naming it."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise RatingError(f"tz: {tz!r} is not an IANA time zone name") from None


def _seconds(hhmm: str) -> int:
    return int(hhmm[:2]) * 3600 + int(hhmm[3:5]) * 60


class CompiledElement:
    """One TariffElement's restrictions as numbers; `matches` tests a segment's start state."""

    __slots__ = (
        "dated", "day_mask", "electrical", "end_day", "end_s", "energy_limited", "index",
        "max_current", "max_duration", "max_power", "max_wh", "min_current", "min_duration",
        "min_power", "min_wh", "reservation", "start_day", "start_s", "timed", "timed_elapsed",
        "unrestricted",
    )  # fmt: skip

    def __init__(self, index: int, r: TariffRestrictions | None) -> None:
        self.index = index
        r = r or TariffRestrictions()
        self.start_s = None if r.start_time is None else _seconds(r.start_time)
        self.end_s = None if r.end_time is None else _seconds(r.end_time)
        if self.start_s is not None and self.start_s == self.end_s:
            self.start_s = self.end_s = None  # equal start and end: the whole day (docs/pricing.md)
        self.start_day = None if r.start_date is None else r.start_date.toordinal()
        self.end_day = None if r.end_date is None else r.end_date.toordinal()
        self.min_wh = None if r.min_kwh is None else r.min_kwh * _THOUSAND
        self.max_wh = None if r.max_kwh is None else r.max_kwh * _THOUSAND
        self.min_current, self.max_current = r.min_current, r.max_current
        self.min_power, self.max_power = r.min_power, r.max_power
        self.min_duration, self.max_duration = r.min_duration, r.max_duration
        self.day_mask = sum(1 << d.iso_index for d in r.day_of_week) if r.day_of_week else 0
        self.reservation = r.reservation
        # which families of tests apply: matches() skips the others
        self.timed = self.start_s is not None or self.end_s is not None
        self.dated = self.start_day is not None or self.end_day is not None or bool(self.day_mask)
        self.energy_limited = self.min_wh is not None or self.max_wh is not None
        self.timed_elapsed = self.min_duration is not None or self.max_duration is not None
        self.electrical = any(v is not None for v in (self.min_current, self.max_current,
                                                      self.min_power, self.max_power))
        self.unrestricted = r.reservation is None and not (
            self.timed or self.dated or self.energy_limited or self.timed_elapsed
            or self.electrical)

    def matches(self, seg: Segment) -> bool:
        if self.unrestricted:
            return not seg.reservation
        if (self.reservation is not None) != seg.reservation:
            return False
        if self.timed and not self._in_window(seg.second_of_day):
            return False
        if self.dated and not self._on_date(seg):
            return False
        if self.energy_limited:
            wh = seg.energy_before_wh
            if self.min_wh is not None and wh < self.min_wh:
                return False
            if self.max_wh is not None and wh >= self.max_wh:
                return False
        if self.timed_elapsed:
            elapsed = seg.elapsed_s
            if self.min_duration is not None and elapsed < self.min_duration:
                return False
            if self.max_duration is not None and elapsed >= self.max_duration:
                return False
        return not self.electrical or self._electrical(seg)

    def _in_window(self, t: int) -> bool:
        s, e = self.start_s, self.end_s
        if s is None:
            return e is None or t < e
        if e is None:
            return t >= s
        if s < e:
            return s <= t < e
        return not e <= t < s  # window crosses midnight

    def _on_date(self, seg: Segment) -> bool:
        if self.start_day is not None and seg.day < self.start_day:
            return False
        if self.end_day is not None and seg.day >= self.end_day:
            return False
        return not self.day_mask or bool(self.day_mask >> seg.weekday & 1)

    def _electrical(self, seg: Segment) -> bool:
        # The whole segment must lie inside the band: min_* against the segment's minimum,
        # max_* (exclusive) against its maximum. Unknown power/current never satisfies a band.
        low, high = seg.power_min_kw, seg.power_max_kw
        if self.min_power is not None and (low is None or low < self.min_power):
            return False
        if self.max_power is not None and (high is None or high >= self.max_power):
            return False
        low, high = seg.current_min, seg.current_max
        if self.min_current is not None and (low is None or low < self.min_current):
            return False
        return self.max_current is None or (high is not None and high < self.max_current)


class Candidate:
    """A price component that may price a dimension, with its element and position.

    Compared by identity: a compiled tariff holds exactly one candidate per component. The
    line kind, unit and the FLAT line (shared: lines are immutable) are fixed at compile time.
    """

    __slots__ = ("component", "component_index", "element", "flat_line", "kind", "price", "step",
                 "unit", "vat")

    def __init__(self, element: CompiledElement, component_index: int,
                 component: PriceComponent, currency: str) -> None:
        self.element, self.component_index, self.component = element, component_index, component
        self.price, self.vat = component.price, component.vat
        self.step = Decimal(component.step_size)  # exact; > 0 means round up to it
        reserved = element.reservation is not None
        self.kind = _KINDS[component.type, reserved]
        self.unit = _THOUSAND if component.type is TariffDimensionType.ENERGY else _HOUR
        price, vat = component.price, component.vat
        self.flat_line = PricedLine(
            self.kind, _ONE, _ONE, price, vat, price,
            price if vat is None else price + price * vat / _HUNDRED, currency, element.index,
            None) if component.type is TariffDimensionType.FLAT else None

    @property
    def key(self) -> tuple[int, int]:
        return (self.element.index, self.component_index)


_D = TariffDimensionType
_KINDS: Final = {
    (_D.ENERGY, False): LineKind.ENERGY, (_D.TIME, False): LineKind.TIME,
    (_D.PARKING_TIME, False): LineKind.PARKING_TIME, (_D.FLAT, False): LineKind.FLAT,
    (_D.ENERGY, True): LineKind.ENERGY, (_D.TIME, True): LineKind.RESERVATION_TIME,
    (_D.PARKING_TIME, True): LineKind.PARKING_TIME, (_D.FLAT, True): LineKind.RESERVATION_FLAT,
}  # fmt: skip
_ONE: Final = Decimal(1)
_HUNDRED: Final = Decimal(100)
_HOUR: Final = Decimal(3600)


def _charging(cands: tuple[Candidate, ...]) -> tuple[Candidate, ...]:
    """Candidates that can price a non-reservation segment, up to the first unrestricted one."""
    out = []
    for cand in cands:
        if cand.element.reservation is None:
            out.append(cand)
            if cand.element.unrestricted:
                break
    return tuple(out)


def _fixed(cands: tuple[Candidate, ...]) -> Candidate | None:
    return cands[0] if cands and cands[0].element.unrestricted else None


def _reserving(cands: tuple[Candidate, ...], expired: bool) -> tuple[Candidate, ...]:
    """Candidates for a reservation segment in preference order (RESERVATION_ORDER)."""
    return tuple(cand for wanted in RESERVATION_ORDER[expired] for cand in cands
                 if cand.element.reservation is wanted)


class CompiledTariff:
    """Candidates per dimension in tariff order, plus the thresholds where answers can change.

    `energy`, `time`, `parking` and `flat` hold the candidates a charging segment can get, in
    tariff order and cut after the first unrestricted one (nothing after it can be chosen);
    `reservation_time[expired]` / `reservation_flat[expired]` those of a reservation segment in
    preference order. `fixed` holds, for those four, the candidate that prices every charging
    segment when the first candidate is unrestricted (else None: match segment by segment).
    """

    __slots__ = (
        "bounded",
        "by_dimension",
        "day_boundaries",
        "duration_cuts",
        "energy",
        "energy_cuts_wh",
        "fixed",
        "flat",
        "needs_elapsed",
        "needs_local_cuts",
        "parking",
        "reservation_flat",
        "reservation_time",
        "tariff",
        "time",
    )

    def __init__(self, tariff: Tariff) -> None:
        self.tariff = tariff
        elements = [CompiledElement(i, e.restrictions) for i, e in enumerate(tariff.elements)]
        self.by_dimension: dict[TariffDimensionType, tuple[Candidate, ...]] = {
            dim: tuple(
                Candidate(elements[i], j, c, tariff.currency)
                for i, element in enumerate(tariff.elements)
                for j, c in enumerate(element.price_components)
                if c.type is dim
            )
            for dim in TariffDimensionType
        }
        by = self.by_dimension
        self.energy = _charging(by[_D.ENERGY])
        self.time = _charging(by[_D.TIME])
        self.parking = _charging(by[_D.PARKING_TIME])
        self.flat = _charging(by[_D.FLAT])
        self.fixed = tuple(_fixed(c) for c in (self.energy, self.time, self.parking, self.flat))
        self.reservation_time = {e: _reserving(by[_D.TIME], e) for e in (False, True)}
        self.reservation_flat = {e: _reserving(by[_D.FLAT], e) for e in (False, True)}
        self.bounded = tariff.min_price is not None or tariff.max_price is not None
        boundaries: set[int] = set()
        energy: set[Decimal] = set()
        durations: set[int] = set()
        for el in elements:
            boundaries.update(v for v in (el.start_s, el.end_s) if v is not None)
            if el.day_mask or el.start_day is not None or el.end_day is not None:
                boundaries.add(0)
            energy.update(v for v in (el.min_wh, el.max_wh) if v is not None)
            durations.update(v for v in (el.min_duration, el.max_duration) if v is not None)
        self.day_boundaries = tuple(sorted(boundaries))
        self.needs_local_cuts = bool(boundaries)
        self.energy_cuts_wh = tuple(sorted(energy))
        self.duration_cuts = tuple(sorted(durations))
        self.needs_elapsed = bool(durations)


def compile_tariff(tariff: Tariff) -> CompiledTariff:
    """The compiled form of `tariff`, built once per tariff object."""
    hit = _cache.get(id(tariff))
    if hit is not None and hit[0] is tariff:
        return hit[1]
    compiled = CompiledTariff(tariff)
    if len(_cache) >= _CACHE_LIMIT:
        _cache.clear()
    _cache[id(tariff)] = (tariff, compiled)
    return compiled


RESERVATION_ORDER: Final = {
    False: (ReservationRestrictionType.RESERVATION,),
    True: (ReservationRestrictionType.RESERVATION_EXPIRES, ReservationRestrictionType.RESERVATION),
}
