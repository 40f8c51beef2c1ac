"""A straightforward reference pricer for CDRs, written from docs/pricing.md for differential tests.

No compiled tariffs, caches or fast paths: every period looks at the `Tariff` model directly
(restrictions as written, local time via `astimezone`). Slow on purpose and easy to check.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from evbill.tariffs import Tariff
from evbill.tariffs.model import PriceComponent, TariffElement, TariffRestrictions

D = Decimal
ZERO = D(0)
KIND_ORDER = ["FLAT", "ENERGY", "TIME", "PARKING_TIME", "RESERVATION_FLAT", "RESERVATION_TIME",
              "MIN_PRICE", "MAX_PRICE"]
RefLine = tuple[str, int | None, Decimal, Decimal, Decimal, Decimal]  # kind, element, qty, ...


def _when(text: str) -> datetime:
    at = datetime.fromisoformat(text)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _seconds(hhmm: str) -> int:
    return int(hhmm[:2]) * 3600 + int(hhmm[3:]) * 60


def _band(values: dict[str, Decimal], name: str, parked: bool) -> tuple[Any, Any]:
    low, mid, high = (values.get(f"MIN_{name}"), values.get(name), values.get(f"MAX_{name}"))
    one = next((v for v in (mid, low, high) if v is not None), None)
    if one is None:
        return (ZERO, ZERO) if parked else (None, None)
    return (low if low is not None else one, high if high is not None else one)


def _time_ok(r: TariffRestrictions, second: int) -> bool:
    if r.start_time is not None and r.start_time == r.end_time:
        return True  # the whole day
    s = None if r.start_time is None else _seconds(r.start_time)
    e = None if r.end_time is None else _seconds(r.end_time)
    if s is not None and e is not None:
        return s <= second < e if s < e else (second >= s or second < e)
    return (s is None or second >= s) and (e is None or second < e)


def matches(r: TariffRestrictions | None, p: dict[str, Any], reservation: bool) -> bool:
    """Every restriction of `r` against period state `p` (docs/pricing.md, Steps 2–3)."""
    r = r or TariffRestrictions()
    if (r.reservation is not None) != reservation:
        return False
    local: datetime = p["local"]
    second = local.hour * 3600 + local.minute * 60 + local.second
    checks = [
        _time_ok(r, second),
        r.start_date is None or local.date() >= r.start_date,
        r.end_date is None or local.date() < r.end_date,
        not r.day_of_week or any(d.iso_index == local.weekday() for d in r.day_of_week),
        r.min_kwh is None or p["kwh_before"] >= r.min_kwh,
        r.max_kwh is None or p["kwh_before"] < r.max_kwh,
        r.min_duration is None or p["elapsed"] >= r.min_duration,
        r.max_duration is None or p["elapsed"] < r.max_duration,
    ]
    for name, low_bound, high_bound in (("POWER", r.min_power, r.max_power),
                                        ("CURRENT", r.min_current, r.max_current)):
        low, high = p[name]
        checks.append(low_bound is None or (low is not None and low >= low_bound))
        checks.append(high_bound is None or (high is not None and high < high_bound))
    return all(checks)


def _pick(elements: tuple[TariffElement, ...], dim: str, p: dict[str, Any],
          reservation: bool, expired: bool) -> tuple[int, int, PriceComponent] | None:
    orders = [None] if not reservation else (
        ["RESERVATION_EXPIRES", "RESERVATION"] if expired else ["RESERVATION"])
    for wanted in orders:
        for i, el in enumerate(elements):
            r = el.restrictions
            if reservation and (r is None or r.reservation != wanted):
                continue
            for j, c in enumerate(el.price_components):
                if c.type == dim and matches(r, p, reservation):
                    return i, j, c
    return None


def _periods(cdr: Mapping[str, Any], zone: ZoneInfo) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    kwh_before, origin = ZERO, None
    for raw in cdr["charging_periods"]:
        v = {d["type"]: D(d["volume"]) for d in raw["dimensions"]}
        start = _when(raw["start_date_time"])
        reserved = v.get("RESERVATION_TIME", ZERO) * 3600
        energy_wh, charging_s = v.get("ENERGY", ZERO) * 1000, v.get("TIME", ZERO) * 3600
        parked = not energy_wh and not charging_s
        if not reserved and origin is None:
            origin = start
        elapsed = ZERO if reserved or origin is None else \
            D((start - origin) // timedelta(microseconds=1)) / 1_000_000
        out.append({"local": start.astimezone(zone), "kwh_before": kwh_before,
                    "elapsed": elapsed, "reservation": bool(reserved), "energy_wh": energy_wh,
                    "charging_s": charging_s, "parking_s": v.get("PARKING_TIME", ZERO) * 3600,
                    "reserved_s": reserved, "POWER": _band(v, "POWER", parked),
                    "CURRENT": _band(v, "CURRENT", parked)})
        kwh_before += energy_wh / 1000
    return out


def reference_lines(tariff: Tariff, tz: str, cdr: Mapping[str, Any]) -> list[RefLine]:
    """(kind, element, quantity, measured, excl, incl) per line, in rate_cdr's line order."""
    periods = _periods(cdr, ZoneInfo(tz))
    expired = all(p["reservation"] for p in periods)
    used: dict[tuple[str, int, int], list[Any]] = {}  # (kind, i, j) -> [component, measured]
    last: dict[str, tuple[str, int, int]] = {}
    flats: dict[str, tuple[int, PriceComponent]] = {}
    dims = (("ENERGY", "ENERGY", "energy_wh"), ("TIME", "TIME", "charging_s"),
            ("PARKING_TIME", "PARKING_TIME", "parking_s"))
    for p in periods:
        res = p["reservation"]
        wanted = (("TIME", "RESERVATION_TIME", "reserved_s"),) if res else dims
        for dim, kind, field in wanted:
            hit = _pick(tariff.elements, dim, p, res, expired) if p[field] else None
            if hit is not None:
                entry = used.setdefault((kind, hit[0], hit[1]), [hit[2], ZERO])
                entry[1] += p[field]
                last[kind] = (kind, hit[0], hit[1])
        flat_kind = "RESERVATION_FLAT" if res else "FLAT"
        hit = _pick(tariff.elements, "FLAT", p, res, expired)
        if hit is not None and flat_kind not in flats:
            flats[flat_kind] = (hit[0], hit[2])
    extra: dict[tuple[str, int, int], Decimal] = {}
    families = ["ENERGY", "RESERVATION_TIME", "PARKING_TIME" if "PARKING_TIME" in last
                else "TIME"]
    for kind in families:
        if kind not in last:
            continue
        total = sum((m for (k, _, _), (_, m) in used.items() if k == kind), ZERO)
        step = used[last[kind]][0].step_size
        if step > 0 and total > 0:
            billed = (total.quantize(D("0.000001"), ROUND_HALF_EVEN) / step).to_integral_value(
                ROUND_CEILING) * step
            if billed > total:
                extra[last[kind]] = billed - total
    lines: list[RefLine] = []
    for kind in ("FLAT", "RESERVATION_FLAT"):
        if kind in flats:
            i, c = flats[kind]
            lines.append((kind, i, D(1), D(1), c.price, _vat(c.price, c.vat)))
    volume = []
    for key, (c, measured) in used.items():
        unit = D(1000) if key[0] == "ENERGY" else D(3600)
        billed = measured + extra.get(key, ZERO)
        amount = billed * c.price / unit
        volume.append((key[0], key[1], billed / unit, measured / unit, amount,
                       _vat(amount, c.vat)))
    lines += sorted(volume, key=lambda line: KIND_ORDER.index(line[0]))
    return lines + _bounds(tariff, lines)


def _vat(amount: Decimal, vat: Decimal | None) -> Decimal:
    return amount if vat is None else amount + amount * vat / 100


def _bounds(tariff: Tariff, lines: list[RefLine]) -> list[RefLine]:
    excl = sum((line[4] for line in lines), ZERO)
    incl = sum((line[5] for line in lines), ZERO)
    out: list[RefLine] = []
    low, high = tariff.min_price, tariff.max_price
    if low is not None:
        d_excl = max(ZERO, low.excl_vat - excl)
        d_incl = d_excl if low.incl_vat is None else max(ZERO, low.incl_vat - incl)
        if d_excl or d_incl:
            out.append(("MIN_PRICE", None, D(1), D(1), d_excl, d_incl))
    if high is not None:
        d_excl = min(ZERO, high.excl_vat - excl)
        d_incl = d_excl if high.incl_vat is None else min(ZERO, high.incl_vat - incl)
        if d_excl or d_incl:
            out.append(("MAX_PRICE", None, D(1), D(1), d_excl, d_incl))
    return out
