"""`rate_cdr`: price an OCPI 2.2.1 CDR or Session as a partner sends it (periods, no costs)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final
from zoneinfo import ZoneInfo

from evbill.rating.compiled import compile_tariff, zone_for
from evbill.rating.engine import price_lines, select
from evbill.rating.segments import Segment, local_fields
from evbill.rating.types import PricedCdr, PricedPeriod, RatingError
from evbill.rating.validity import check_validity
from evbill.tariffs.model import Tariff

__all__ = ["rate_cdr"]

ZERO: Final = Decimal(0)
_HOUR: Final = Decimal(3600)
_THOUSAND: Final = Decimal(1000)


def _dt(value: object, path: str) -> datetime:
    if not isinstance(value, str):
        raise RatingError(f"{path}: expected an RFC 3339 date-time string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RatingError(f"{path}: {value!r} is not an RFC 3339 date-time") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _num(value: object, path: str) -> Decimal:
    if isinstance(value, Decimal):
        if value.is_finite():
            return value
    elif isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))  # JSON boundary: the float's exact literal text
        if result.is_finite():
            return result
    raise RatingError(f"{path}: {value!r} is not a number")


def rate_cdr(tariff: Tariff, tz: str, cdr: Mapping[str, Any]) -> PricedCdr:
    """Price a CDR/Session's charging periods with `tariff` in the location's time zone `tz`."""
    zone = zone_for(tz)
    ct = compile_tariff(tariff)
    start = _dt(cdr.get("start_date_time"), "start_date_time")
    end = _dt(cdr.get("end_date_time"), "end_date_time")
    currency = cdr.get("currency")
    if currency is not None and currency != tariff.currency:
        raise RatingError(f"currency: CDR is in {currency!r}, tariff {tariff.id} in "
                          f"{tariff.currency!r}")
    raw = cdr.get("charging_periods")
    if not raw or (type(raw) is not list
                   and (not isinstance(raw, Sequence) or isinstance(raw, str))):
        raise RatingError("charging_periods: at least one charging period is required")
    segs, periods, session_start, (energy, charging, parking) = _segments(
        raw, end, zone if ct.needs_local_cuts else None, tariff.id)
    if tariff.start_date_time is not None or tariff.end_date_time is not None:
        check_validity(tariff, start if session_start is None else session_start)
    if ct.needs_elapsed and session_start is not None:  # only duration restrictions look
        for seg in segs:
            if not seg.reservation:
                seg.elapsed_s = _elapsed(seg.start, session_start)
    lines = price_lines(ct, segs, select(ct, segs, session_start is None))
    cdr_id = cdr.get("id")
    return PricedCdr(tariff, cdr_id if isinstance(cdr_id, str) else None, start, end,
                     tuple(periods), tuple(lines), energy / _THOUSAND,
                     (charging + parking) / _HOUR, parking / _HOUR, cdr)


def _elapsed(at: datetime, origin: datetime) -> Decimal | int:
    delta = at - origin
    whole = delta.days * 86400 + delta.seconds
    return whole + Decimal(delta.microseconds) / 1000000 if delta.microseconds else whole


def _segments(raw: Sequence[Any], end: datetime, zone: ZoneInfo | None, tariff_id: str) -> tuple[
        list[Segment], list[PricedPeriod], datetime | None, tuple[Decimal, Decimal, Decimal]]:
    """One segment and one priced period per charging period; also the start of charging and
    the session's energy, charging and parking totals. The CDR path's hot loop: one function."""
    segs: list[Segment] = []
    periods: list[PricedPeriod] = []
    energy_before = energy = charging = parking = ZERO
    session_start: datetime | None = None
    previous: datetime | None = None
    fromiso, slots = datetime.fromisoformat, _SLOTS
    for i, period in enumerate(raw):
        if type(period) is not dict and not isinstance(period, Mapping):
            raise RatingError(f"charging_periods[{i}]: expected an object")
        try:
            start = fromiso(period["start_date_time"])
        except (KeyError, TypeError, ValueError):
            start = _dt(period.get("start_date_time"), f"charging_periods[{i}].start_date_time")
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        if (previous is not None and start < previous) or start > end:
            _order_error(i, start, end, previous)
        previous = start
        dims = period.get("dimensions")
        if not dims or (type(dims) is not list
                        and (not isinstance(dims, Sequence) or isinstance(dims, str))):
            raise RatingError(f"charging_periods[{i}].dimensions: at least one dimension is "
                              "required")
        values: list[Decimal | None] = [None] * 11
        pairs: list[tuple[str, Decimal]] = []
        for dim in dims:
            try:
                kind, value = dim["type"], dim["volume"]
                slot = slots[kind]
                if type(value) is not Decimal or not value.is_finite():
                    raise TypeError
            except (KeyError, TypeError, IndexError):
                kind, slot, value = _dimension(dim, i, len(pairs))
            values[slot] = value
            pairs.append((kind, value))
        e, t, pk, r, p_low, p_mid, p_high, c_low, c_mid, c_high, _ = values
        energy_wh = ZERO if e is None else e * _THOUSAND
        charging_s = ZERO if t is None else t * _HOUR
        parking_s = ZERO if pk is None else pk * _HOUR
        if not r:  # a charging or parking period (RESERVATION_TIME absent or 0)
            if energy_wh < 0 or charging_s < 0 or parking_s < 0:
                _refuse(i, negative=True)
            if energy_wh or charging_s:
                power = (p_low, p_high) if p_low is not None and p_high is not None else \
                    _band(p_low, p_mid, p_high)
                current = (c_low, c_high) if c_low is not None and c_high is not None else \
                    _band(c_low, c_mid, c_high)
            else:  # parked: no power flows unless the partner says so
                power, current = _parked(_band(p_low, p_mid, p_high)), \
                    _parked(_band(c_low, c_mid, c_high))
            if session_start is None:
                session_start = start
            energy += energy_wh
            charging += charging_s
            parking += parking_s
            segs.append(Segment(start, _NO_LOCAL if zone is None else local_fields(start, zone),
                                0, energy_before, energy_wh, charging_s, parking_s, ZERO, False,
                                power, current, i))
        else:
            segs.append(_reservation(values, i, start, zone, energy_before))
        energy_before += energy_wh
        periods.append(PricedPeriod(start, tuple(pairs), tariff_id))
    return segs, periods, session_start, (energy, charging, parking)


def _dimension(dim: object, i: int, j: int) -> tuple[str, int, Decimal]:
    """A dimension off the fast path: (type, slot, volume), or RatingError naming the field."""
    kind = dim.get("type") if isinstance(dim, Mapping) else None
    slot = _SLOTS.get(kind) if isinstance(kind, str) else None
    if kind is None or slot is None:
        raise RatingError(f"charging_periods[{i}].dimensions[{j}].type: {kind!r} is not a "
                          "CdrDimensionType")
    assert isinstance(dim, Mapping)
    return kind, slot, _num(dim.get("volume"), f"charging_periods[{i}].dimensions[{j}].volume")


def _order_error(i: int, start: datetime, end: datetime, previous: datetime | None) -> None:
    if previous is not None and start < previous:
        raise RatingError(f"charging_periods[{i}].start_date_time: periods are not in "
                          "chronological order")
    raise RatingError(f"charging_periods[{i}].start_date_time: after the session's "
                      "end_date_time")


# Where each CdrDimensionType's volume goes while a period is read (10: kept, not priced).
_SLOTS: Final = {
    "ENERGY": 0, "TIME": 1, "PARKING_TIME": 2, "RESERVATION_TIME": 3, "MIN_POWER": 4,
    "POWER": 5, "MAX_POWER": 6, "MIN_CURRENT": 7, "CURRENT": 8, "MAX_CURRENT": 9,
    "ENERGY_EXPORT": 10, "ENERGY_IMPORT": 10, "STATE_OF_CHARGE": 10,
}  # fmt: skip


def _refuse(i: int, *, negative: bool) -> None:
    if negative:
        raise RatingError(f"charging_periods[{i}].dimensions: negative energy or time is not "
                          "supported")
    raise RatingError(f"charging_periods[{i}].dimensions: RESERVATION_TIME mixed with "
                      "charging dimensions")


def _parked(band: tuple[Decimal | None, Decimal | None]) -> tuple[Decimal | None, Decimal | None]:
    return band if band[0] is not None else _IDLE


def _reservation(values: list[Decimal | None], i: int, start: datetime, zone: ZoneInfo | None,
                 energy_before: Decimal) -> Segment:
    """A period with RESERVATION_TIME (and no charging, parking or energy)."""
    e, t, pk, r, p_low, p_mid, p_high, c_low, c_mid, c_high, _ = values
    assert r is not None
    energy = ZERO if e is None else e * _THOUSAND
    charging = ZERO if t is None else t * _HOUR
    parking = ZERO if pk is None else pk * _HOUR
    reserved = r * _HOUR
    if energy < 0 or charging < 0 or parking < 0 or reserved < 0:
        _refuse(i, negative=True)
    if reserved and (energy or charging or parking):
        _refuse(i, negative=False)
    power = _band(p_low, p_mid, p_high)
    current = _band(c_low, c_mid, c_high)
    if not energy and not charging:
        power, current = _parked(power), _parked(current)
    return Segment(start, _NO_LOCAL if zone is None else local_fields(start, zone), 0,
                   energy_before, energy, charging, parking, reserved, bool(reserved), power,
                   current, i)


_IDLE: Final = (ZERO, ZERO)
_UNKNOWN: Final = (None, None)
_NO_LOCAL: Final = (0, 0, 0)  # the tariff has no time, date or weekday restriction


def _band(low: Decimal | None, mid: Decimal | None,
          high: Decimal | None) -> tuple[Decimal | None, Decimal | None]:
    """(minimum, maximum) from MIN_*/*/MAX_* dimensions; any one of them stands for missing ones."""
    if low is not None and high is not None:
        return (low, high)
    if low is None and mid is None and high is None:
        return _UNKNOWN
    one = mid if mid is not None else (low if low is not None else high)
    return (low if low is not None else one, high if high is not None else one)
