"""`rate_cdr`: price an OCPI 2.2.1 CDR or Session as a partner sends it (periods, no costs)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

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
_KNOWN: Final = frozenset({
    "ENERGY", "TIME", "PARKING_TIME", "RESERVATION_TIME", "MIN_POWER", "MAX_POWER", "POWER",
    "MIN_CURRENT", "MAX_CURRENT", "CURRENT", "ENERGY_EXPORT", "ENERGY_IMPORT", "STATE_OF_CHARGE",
})


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
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
        raise RatingError("charging_periods: at least one charging period is required")
    segs, dimensions = _segments(raw, end, zone)
    charging = [s for s in segs if not s.reservation]
    expired = not charging
    session_start = charging[0].start if charging else start
    check_validity(tariff, session_start)
    for seg in segs:
        seg.elapsed_s = 0 if seg.reservation else _elapsed(seg.start, session_start)
    choices = select(ct, segs, expired)
    lines = price_lines(ct, segs, choices)
    periods = tuple(PricedPeriod(seg.start, dims, tariff.id) for seg, dims in
                    zip(segs, dimensions, strict=True))
    return PricedCdr(
        tariff=tariff, cdr_id=_opt_str(cdr.get("id")), start=start, end=end, periods=periods,
        lines=tuple(lines),
        total_energy=sum((s.energy_wh for s in charging), ZERO) / _THOUSAND,
        total_time=sum((s.charging_s + s.parking_s for s in charging), ZERO) / _HOUR,
        total_parking_time=sum((s.parking_s for s in charging), ZERO) / _HOUR,
        source=dict(cdr),
    )


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _elapsed(at: datetime, origin: datetime) -> Decimal | int:
    delta = at - origin
    whole = delta.days * 86400 + delta.seconds
    return whole + Decimal(delta.microseconds) / 1000000 if delta.microseconds else whole


def _segments(raw: Sequence[Any], end: datetime,
              zone: Any) -> tuple[list[Segment], list[tuple[tuple[str, Decimal], ...]]]:
    segs: list[Segment] = []
    dimensions: list[tuple[tuple[str, Decimal], ...]] = []
    energy_before = ZERO
    previous: datetime | None = None
    for i, period in enumerate(raw):
        path = f"charging_periods[{i}]"
        if not isinstance(period, Mapping):
            raise RatingError(f"{path}: expected an object")
        start = _dt(period.get("start_date_time"), f"{path}.start_date_time")
        if previous is not None and start < previous:
            raise RatingError(f"{path}.start_date_time: periods are not in chronological order")
        if start > end:
            raise RatingError(f"{path}.start_date_time: after the session's end_date_time")
        previous = start
        seg, dims = _segment(period, path, start, zone, energy_before)
        seg.source_index = i
        energy_before += seg.energy_wh
        segs.append(seg)
        dimensions.append(dims)
    return segs, dimensions


def _segment(period: Mapping[str, Any], path: str, start: datetime, zone: Any,
             energy_before: Decimal) -> tuple[Segment, tuple[tuple[str, Decimal], ...]]:
    vol: dict[str, Decimal] = {}
    dims = period.get("dimensions")
    if not isinstance(dims, Sequence) or isinstance(dims, str) or not dims:
        raise RatingError(f"{path}.dimensions: at least one dimension is required")
    for j, dim in enumerate(dims):
        kind = dim.get("type") if isinstance(dim, Mapping) else None
        if kind not in _KNOWN:
            raise RatingError(f"{path}.dimensions[{j}].type: {kind!r} is not a CdrDimensionType")
        vol[kind] = _num(dim.get("volume"), f"{path}.dimensions[{j}].volume")
    energy = vol.get("ENERGY", ZERO) * _THOUSAND
    charging = vol.get("TIME", ZERO) * _HOUR
    parking = vol.get("PARKING_TIME", ZERO) * _HOUR
    reserved = vol.get("RESERVATION_TIME", ZERO) * _HOUR
    if energy < 0 or charging < 0 or parking < 0 or reserved < 0:
        raise RatingError(f"{path}.dimensions: negative energy or time is not supported")
    if reserved and (energy or charging or parking):
        raise RatingError(f"{path}.dimensions: RESERVATION_TIME mixed with charging dimensions")
    idle = not energy and not charging  # parked: no power flows
    p_min = vol.get("MIN_POWER", vol.get("POWER", vol.get("MAX_POWER")))
    p_max = vol.get("MAX_POWER", vol.get("POWER", vol.get("MIN_POWER")))
    c_min = vol.get("MIN_CURRENT", vol.get("CURRENT", vol.get("MAX_CURRENT")))
    c_max = vol.get("MAX_CURRENT", vol.get("CURRENT", vol.get("MIN_CURRENT")))
    if idle and p_min is None:
        p_min = p_max = ZERO
    if idle and c_min is None:
        c_min = c_max = ZERO
    seg = Segment(start, local_fields(start, zone), 0, energy_before, energy_wh=energy,
                  charging_s=charging, parking_s=parking, reservation_s=reserved,
                  reservation=bool(reserved), power=(p_min, p_max), current=(c_min, c_max))
    return seg, tuple(vol.items())
