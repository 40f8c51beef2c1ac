"""Test builders: tariffs from short element lists, meter timelines from (minutes, kW) parts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from evbill.rating import MeterSample, PricedCdr, rate_cdr, rate_timeline
from evbill.tariffs import Tariff, parse_tariff

D = Decimal


def tariff(*elements: dict[str, Any], **fields: Any) -> Tariff:
    """A EUR tariff from JSON-like elements (numbers as Decimal, like `loads` gives them)."""
    data: dict[str, Any] = {
        "country_code": "DE", "party_id": "EVB", "id": "T1", "currency": "EUR",
        "elements": list(elements), "last_updated": "2024-01-01T00:00:00Z",
    }
    data.update(fields)
    return parse_tariff(data)


def comp(type_: str, price: str, step: int = 1, vat: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": type_, "price": D(price), "step_size": step}
    if vat is not None:
        out["vat"] = D(vat)
    return out


def element(*components: dict[str, Any], **restrictions: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"price_components": list(components)}
    if restrictions:
        out["restrictions"] = {
            k: D(v) if isinstance(v, str) and k.startswith(("min_", "max_")) else v
            for k, v in restrictions.items()
        }
    return out


@dataclass(frozen=True)
class Part:
    minutes: Decimal | int | str
    kw: Decimal | int | str = 0
    charging: bool | None = None  # default: charging when kW > 0
    amps: Decimal | int | str | None = None


def timeline(start: str, tz: str, *parts: Part, derive_power: bool = False) -> list[MeterSample]:
    """Samples at each part boundary; energy grows at the part's kW (exact Decimal)."""
    # real elapsed time: step in UTC (aware + timedelta would add wall-clock time)
    at = datetime.fromisoformat(start).replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)
    energy = D(0)
    out = []
    for p in parts:
        kw, minutes = D(p.kw), D(p.minutes)
        charging = p.charging if p.charging is not None else kw > 0
        out.append(MeterSample(at, energy, None if derive_power else kw * 1000,
                               None if p.amps is None else D(p.amps), charging))
        at = at + timedelta(microseconds=int(minutes * 60_000_000))
        energy += kw * 1000 * minutes / 60
    out.append(MeterSample(at, energy, D(0), None, False))
    return out


def both(t: Tariff, tz: str, samples: list[MeterSample], **kw: Any) -> PricedCdr:
    """Rate a timeline, then its own exact CDR through rate_cdr; both must agree to the 1e-12."""
    via_timeline = rate_timeline(t, tz, samples, **kw)
    via_cdr = rate_cdr(t, tz, via_timeline.to_ocpi(places=None))
    for a, b in ((via_timeline.total_cost, via_cdr.total_cost),):
        assert abs(a.excl_vat.amount - b.excl_vat.amount) < D("1e-12"), (a, b)
        assert abs(a.incl_vat.amount - b.incl_vat.amount) < D("1e-12"), (a, b)
    return via_timeline


def cdr(start: str, end: str, *periods: tuple[str, dict[str, str]], currency: str = "EUR",
        **fields: Any) -> dict[str, Any]:
    """An OCPI CDR dict: periods as (start, {dimension: volume}), volumes as decimal text."""
    data: dict[str, Any] = {
        "id": "CDR1", "start_date_time": start, "end_date_time": end, "currency": currency,
        "charging_periods": [
            {"start_date_time": s, "dimensions": [{"type": k, "volume": D(v)}
                                                 for k, v in dims.items()]}
            for s, dims in periods
        ],
    }
    data.update(fields)
    return data


def money(cdr_: PricedCdr) -> tuple[Decimal, Decimal]:
    """(excl, incl) of the exact total, normalised for comparison."""
    return cdr_.total_cost.excl_vat.amount, cdr_.total_cost.incl_vat.amount
