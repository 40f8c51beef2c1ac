"""A tariff prepared once for rating: restrictions as plain numbers, candidates per dimension.

Compiled forms are cached by tariff identity (tariffs are immutable), so a service that rates many
sessions against the same `Tariff` object compiles it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from evbill.rating.segments import Segment
from evbill.rating.types import RatingError
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
        "day_mask", "end_day", "end_s", "index", "max_current", "max_duration", "max_power",
        "max_wh", "min_current", "min_duration", "min_power", "min_wh", "reservation",
        "start_day", "start_s", "unrestricted",
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
        self.unrestricted = r.reservation is None and not any(
            v is not None for v in (self.start_s, self.end_s, self.start_day, self.end_day,
                                    self.min_wh, self.max_wh, self.min_current, self.max_current,
                                    self.min_power, self.max_power, self.min_duration,
                                    self.max_duration)) and not self.day_mask

    def matches(self, seg: Segment) -> bool:
        if self.unrestricted:
            return not seg.reservation
        if (self.reservation is not None) != seg.reservation:
            return False
        s, e, t = self.start_s, self.end_s, seg.second_of_day
        if s is not None:
            if e is None:
                if t < s:
                    return False
            elif s < e:
                if not s <= t < e:
                    return False
            elif e <= t < s:  # window crosses midnight
                return False
        elif e is not None and t >= e:
            return False
        if self.start_day is not None and seg.day < self.start_day:
            return False
        if self.end_day is not None and seg.day >= self.end_day:
            return False
        if self.day_mask and not self.day_mask >> seg.weekday & 1:
            return False
        if self.min_wh is not None and seg.energy_before_wh < self.min_wh:
            return False
        if self.max_wh is not None and seg.energy_before_wh >= self.max_wh:
            return False
        if self.min_duration is not None and seg.elapsed_s < self.min_duration:
            return False
        if self.max_duration is not None and seg.elapsed_s >= self.max_duration:
            return False
        return self._electrical(seg)

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


@dataclass(frozen=True, slots=True)
class Candidate:
    """A price component that may price a dimension, with its element and position."""

    element: CompiledElement
    component_index: int
    component: PriceComponent

    @property
    def key(self) -> tuple[int, int]:
        return (self.element.index, self.component_index)


class CompiledTariff:
    """Candidates per dimension in tariff order, plus the thresholds where answers can change."""

    __slots__ = ("by_dimension", "day_boundaries", "duration_cuts", "energy_cuts_wh",
                 "needs_local_cuts", "tariff")

    def __init__(self, tariff: Tariff) -> None:
        self.tariff = tariff
        elements = [CompiledElement(i, e.restrictions) for i, e in enumerate(tariff.elements)]
        self.by_dimension: dict[TariffDimensionType, tuple[Candidate, ...]] = {
            dim: tuple(
                Candidate(elements[i], j, c)
                for i, element in enumerate(tariff.elements)
                for j, c in enumerate(element.price_components)
                if c.type is dim
            )
            for dim in TariffDimensionType
        }
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
