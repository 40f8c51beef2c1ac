"""`rate_timeline`: meter samples → charging periods cut where any restriction can change → price.

Energy is linear between samples (cuts at kWh thresholds are interpolated exactly); power and
current hold from a sample until the next; `charging` of a sample holds until the next sample.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from itertools import pairwise
from typing import Final
from zoneinfo import ZoneInfo

from evbill.rating.compiled import CompiledTariff, compile_tariff, zone_for
from evbill.rating.engine import merge, price_lines, select
from evbill.rating.localtime import local_cuts
from evbill.rating.segments import Segment, local_fields
from evbill.rating.types import MeterSample, PricedCdr, PricedPeriod, RatingError
from evbill.rating.validity import check_validity
from evbill.tariffs.model import Tariff

__all__ = ["rate_timeline"]

ZERO: Final = Decimal(0)
_MICRO: Final = Decimal(1_000_000)
_HOUR: Final = Decimal(3600)
_THOUSAND: Final = Decimal(1000)
_KW_PER_WH_S: Final = Decimal("3.6")  # Wh per second → kW
_UNKNOWN: Final = (None, None)
_NO_LOCAL: Final = (0, 0, 0)  # the tariff has no time, date or weekday restriction


def rate_timeline(tariff: Tariff, tz: str, samples: Sequence[MeterSample], *,
                  cdr_id: str | None = None, reservation: bool = False) -> PricedCdr:
    """Price a meter timeline. With `reservation`, the stretch before the first charging sample
    is reservation time (all of it, as an expired reservation, if the car never charged)."""
    zone = zone_for(tz)
    ct = compile_tariff(tariff)
    _validate(samples)
    first = next((i for i, s in enumerate(samples) if s.charging), None) if reservation else 0
    expired = first is None or first == len(samples) - 1
    begin = len(samples) - 1 if first is None else first
    origin = samples[begin].at if not expired else samples[0].at
    check_validity(tariff, origin)
    builder = _Builder(ct, zone, samples, origin)
    segs = builder.reservation(begin) + builder.session(begin)
    choices = select(ct, segs, expired)
    segs, choices = merge(segs, choices)
    lines = price_lines(ct, segs, choices)
    charging = [s for s in segs if not s.reservation]
    return PricedCdr(
        tariff=tariff, cdr_id=cdr_id, start=samples[0].at.astimezone(UTC),
        end=samples[-1].at.astimezone(UTC),
        periods=tuple(PricedPeriod(s.start, _dims(s), tariff.id) for s in segs),
        lines=tuple(lines),
        total_energy=sum((s.energy_wh for s in charging), ZERO) / _THOUSAND,
        total_time=sum((s.charging_s + s.parking_s for s in charging), ZERO) / _HOUR,
        total_parking_time=sum((s.parking_s for s in charging), ZERO) / _HOUR,
    )


def _validate(samples: Sequence[MeterSample]) -> None:
    if len(samples) < 2:
        raise RatingError("samples: a timeline needs at least two samples (start and end)")
    previous: MeterSample | None = None
    for i, s in enumerate(samples):
        if s.at.tzinfo is None or s.at.utcoffset() is None:
            raise RatingError(f"samples[{i}].at: must be timezone-aware")
        _finite(s.energy_wh, i, "energy_wh")
        if s.power_w is not None:
            _finite(s.power_w, i, "power_w")
        if s.current_a is not None:
            _finite(s.current_a, i, "current_a")
        if previous is not None:
            if s.at <= previous.at:
                raise RatingError(f"samples[{i}].at: not after the previous sample")
            if s.energy_wh < previous.energy_wh:
                raise RatingError(f"samples[{i}].energy_wh: the energy register went backwards")
        previous = s


def _finite(value: object, i: int, name: str) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise RatingError(f"samples[{i}].{name}: {value!r} is not a finite Decimal")


_US: Final = timedelta(microseconds=1)


def _offset(at: datetime, origin: datetime) -> Decimal:
    return Decimal((at - origin) // _US) / _MICRO


class _Builder:
    """Cuts each sample interval into segments at every instant a restriction may change."""

    def __init__(self, ct: CompiledTariff, zone: ZoneInfo, samples: Sequence[MeterSample],
                 origin: datetime) -> None:
        self.ct, self.zone, self.samples, self.origin = ct, zone, samples, origin
        cuts = local_cuts(zone, samples[0].at, samples[-1].at, ct.day_boundaries)
        self.local_offsets = [_offset(c, origin) for c in cuts]
        self.offsets = [_offset(sample.at, origin) for sample in samples]
        self.base_wh = samples[0].energy_wh

    def reservation(self, end: int) -> list[Segment]:
        segs = []
        for i in range(end):
            a, b = self.samples[i], self.samples[i + 1]
            if b.energy_wh != a.energy_wh:
                raise RatingError(f"samples[{i + 1}].energy_wh: energy flowed during the "
                                  "reservation (before the first charging sample)")
            s_a, s_b = self.offsets[i], self.offsets[i + 1]
            points = [s_a, *self._inside(self.local_offsets, s_a, s_b), s_b]
            for p, q in pairwise(points):
                start = self._instant(p)
                segs.append(Segment(start, self._local(start), 0, ZERO, ZERO, ZERO,
                                    ZERO, q - p, True, _UNKNOWN, _UNKNOWN))
        return segs

    def session(self, begin: int) -> list[Segment]:
        segs: list[Segment] = []
        base = self.samples[begin].energy_wh if begin < len(self.samples) else self.base_wh
        for i in range(begin, len(self.samples) - 1):
            segs += self._interval(i, base)
        return segs

    @staticmethod
    def _inside(sorted_offsets: Sequence[Decimal], lo: Decimal, hi: Decimal) -> list[Decimal]:
        i = bisect_right(sorted_offsets, lo)
        out = []
        while i < len(sorted_offsets) and sorted_offsets[i] < hi:
            out.append(sorted_offsets[i])
            i += 1
        return out

    def _local(self, start: datetime) -> tuple[int, int, int]:
        """Local date, weekday and time of day, if any element of the tariff looks at them."""
        return local_fields(start, self.zone) if self.ct.needs_local_cuts else _NO_LOCAL

    def _instant(self, offset: Decimal) -> datetime:
        # floor to the microsecond: a segment's local time is never later than its true start
        micros = int((offset * _MICRO).to_integral_value(ROUND_FLOOR))
        return self.origin + timedelta(microseconds=micros)

    def _interval(self, i: int, base: Decimal) -> list[Segment]:
        a, b = self.samples[i], self.samples[i + 1]
        s_a, s_b = self.offsets[i], self.offsets[i + 1]
        e_a, e_b = a.energy_wh - base, b.energy_wh - base
        span, rise = s_b - s_a, e_b - e_a
        ct, local = self.ct, self.local_offsets
        k = bisect_right(local, s_a) if local else 0
        if not (k < len(local) and local[k] < s_b) and \
                not (ct.energy_cuts_wh and rise > 0
                     and any(e_a < wh < e_b for wh in ct.energy_cuts_wh)) and \
                not (ct.duration_cuts and any(s_a < d < s_b for d in ct.duration_cuts)):
            # nothing can change inside the interval (the usual case): one segment
            start = self.origin + (a.at - self.origin)  # = _instant(s_a), in origin's zone
            power = a.power_w / _THOUSAND if a.power_w is not None else \
                rise / span * _KW_PER_WH_S
            return [Segment(start, self._local(start), s_a, e_a, rise,
                            span if a.charging else ZERO, ZERO if a.charging else span, ZERO,
                            False, (power, power), (a.current_a, a.current_a))]
        exact: dict[Decimal, Decimal] = {}  # offset → energy, where the energy is a threshold
        if rise > 0:
            for wh in self.ct.energy_cuts_wh:
                if e_a < wh < e_b:
                    exact[s_a + (wh - e_a) * span / rise] = wh
        offsets = set(self._inside(self.local_offsets, s_a, s_b))
        offsets.update(Decimal(d) for d in self.ct.duration_cuts if s_a < d < s_b)
        offsets.update(exact)
        points = [s_a, *sorted(offsets), s_b]
        energies = [exact[p] if p in exact else e_a + rise * (p - s_a) / span for p in points]
        energies[0], energies[-1] = e_a, e_b
        power = a.power_w / _THOUSAND if a.power_w is not None else rise / span * _KW_PER_WH_S
        current = a.current_a
        segs = []
        for j in range(len(points) - 1):
            p, duration = points[j], points[j + 1] - points[j]
            start = self._instant(p)
            segs.append(Segment(
                start, self._local(start), p, energies[j],
                energies[j + 1] - energies[j],
                duration if a.charging else ZERO,
                ZERO if a.charging else duration,
                ZERO, False, (power, power), (current, current),
            ))
        return segs


def _dims(seg: Segment) -> tuple[tuple[str, Decimal], ...]:
    if seg.reservation:
        return (("RESERVATION_TIME", seg.reservation_s / _HOUR),)
    dims: list[tuple[str, Decimal]] = [("ENERGY", seg.energy_wh / _THOUSAND)]
    if seg.charging_s:
        dims.append(("TIME", seg.charging_s / _HOUR))
    if seg.parking_s:
        dims.append(("PARKING_TIME", seg.parking_s / _HOUR))
    if seg.power_min_kw is not None and seg.power_max_kw is not None:
        dims += [("MIN_POWER", seg.power_min_kw), ("MAX_POWER", seg.power_max_kw)]
    if seg.current_min is not None and seg.current_max is not None:
        dims += [("MIN_CURRENT", seg.current_min), ("MAX_CURRENT", seg.current_max)]
    return tuple(dims)
