"""The optimised CDR path against the straightforward reference pricer on many random sessions."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from evbill.rating import rate_cdr
from evbill.tariffs import Tariff, parse_tariff

from .reference import reference_lines

D = Decimal
ZONES = ["Europe/Berlin", "America/New_York", "Europe/London", "Australia/Sydney", "UTC"]
DAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]


def _price(rng: random.Random) -> Decimal:
    return D(rng.randrange(0, 400)) / 100


def _restrictions(rng: random.Random) -> dict[str, Any]:
    r: dict[str, Any] = {}
    if rng.random() < 0.35:
        r["start_time"] = f"{rng.randrange(24):02d}:{rng.choice([0, 30]):02d}"
    if rng.random() < 0.35:
        r["end_time"] = f"{rng.randrange(24):02d}:{rng.choice([0, 15]):02d}"
    if rng.random() < 0.15:
        first = date(2024, 1, 1) + timedelta(days=rng.randrange(300))
        r["start_date"], r["end_date"] = first.isoformat(), (
            first + timedelta(days=rng.randrange(1, 90))).isoformat()
    if rng.random() < 0.25:
        r["day_of_week"] = rng.sample(DAYS, rng.randint(1, 5))
    if rng.random() < 0.25:
        r["min_kwh" if rng.random() < 0.5 else "max_kwh"] = D(rng.randrange(1, 40))
    if rng.random() < 0.25:
        r["min_duration" if rng.random() < 0.5 else "max_duration"] = rng.randrange(600, 9000)
    if rng.random() < 0.2:
        r["min_power" if rng.random() < 0.5 else "max_power"] = D(rng.randrange(3, 60))
    if rng.random() < 0.15:
        r["min_current" if rng.random() < 0.5 else "max_current"] = D(rng.randrange(6, 40))
    return r


def random_tariff(rng: random.Random, n: int) -> Tariff:
    elements = []
    for _ in range(rng.randint(1, 5)):
        reservation = rng.random() < 0.15
        kinds = ["TIME", "FLAT"] if reservation else ["ENERGY", "TIME", "PARKING_TIME", "FLAT"]
        components = [{"type": k, "price": _price(rng), "step_size": rng.choice(
                           [0, 1, 60, 100, 300, 500, 900]),
                       **({} if rng.random() < 0.3 else {"vat": D(rng.choice([7, 19, 20, 21]))})}
                      for k in rng.sample(kinds, rng.randint(1, len(kinds)))]
        element: dict[str, Any] = {"price_components": components}
        r = _restrictions(rng) if rng.random() < 0.6 else {}
        if reservation:
            r["reservation"] = rng.choice(["RESERVATION", "RESERVATION_EXPIRES"])
        if r:
            element["restrictions"] = r
        elements.append(element)
    data: dict[str, Any] = {"country_code": "DE", "party_id": "EVB", "id": f"R{n}",
                            "currency": "EUR", "elements": elements,
                            "last_updated": "2024-01-01T00:00:00Z"}
    if rng.random() < 0.3:
        low = D(rng.randrange(0, 500)) / 100
        data["min_price"] = {"excl_vat": low, "incl_vat": low * D("1.19")}
        if rng.random() < 0.5:
            data["max_price"] = {"excl_vat": low + 10}
    return parse_tariff(data)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _charging(rng: random.Random, hours: Decimal) -> list[dict[str, Any]]:
    kw = D(rng.randrange(10, 1500)) / 10
    dims = [{"type": "ENERGY", "volume": (kw * hours).quantize(D("0.001"))},
            {"type": "TIME", "volume": hours}]
    shape = rng.random()
    if shape < 0.4:
        dims += [{"type": "MIN_POWER", "volume": kw * D("0.8")},
                 {"type": "MAX_POWER", "volume": kw}]
    elif shape < 0.7:
        dims.append({"type": "POWER", "volume": kw})
    if rng.random() < 0.3:
        dims.append({"type": "CURRENT", "volume": D(rng.randrange(6, 64))})
    return dims


def random_cdr(rng: random.Random, t: Tariff) -> dict[str, Any]:
    at = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(366 * 86400))
    periods = []
    if rng.random() < 0.15:  # a reservation first (alone: it expired)
        hours = D(rng.randrange(60, 3600)) / 3600
        periods.append((at, [{"type": "RESERVATION_TIME", "volume": hours}]))
        at += timedelta(seconds=int(hours * 3600))
    if rng.random() > 0.05 or not periods:
        for _ in range(rng.randint(1, 5)):
            seconds = rng.randrange(60, 4 * 3600)
            hours = (D(seconds) / 3600).quantize(D("0.0001"))
            if rng.random() < 0.7:
                dims = _charging(rng, hours)
            else:
                dims = [{"type": "PARKING_TIME", "volume": hours}]
            periods.append((at, dims))
            at += timedelta(seconds=seconds)
    return {"id": "C", "start_date_time": _iso(periods[0][0]), "end_date_time": _iso(at),
            "currency": t.currency,
            "charging_periods": [{"start_date_time": _iso(s), "dimensions": d}
                                 for s, d in periods]}


@pytest.mark.parametrize("seed", range(4))
def test_rate_cdr_equals_the_reference_on_random_sessions(seed: int) -> None:
    rng = random.Random(seed)
    checked = 0
    for n in range(120):
        t = random_tariff(rng, n)
        for _ in range(5):
            tz, data = rng.choice(ZONES), random_cdr(rng, t)
            priced = rate_cdr(t, tz, data)
            got = [(line.kind.value, line.element_index, line.quantity, line.measured,
                    line.amount_excl_vat, line.amount_incl_vat) for line in priced.lines]
            assert got == reference_lines(t, tz, data), (t, tz, data)
            assert priced.total_cost.excl_vat.amount == sum(g[4] for g in got)
            checked += 1
    assert checked == 600
