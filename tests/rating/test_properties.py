"""Properties over random tariffs and sessions (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from evbill.rating import LineKind, MeterSample, PricedCdr, rate_cdr, rate_timeline
from evbill.tariffs import Tariff, parse_tariff

D = Decimal
ZONES = ["Europe/Berlin", "America/New_York", "UTC"]
TIMES = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.sampled_from([0, 30]))
PRICE = st.decimals(min_value=0, max_value=3, places=2)
STEPS = st.sampled_from([0, 1, 60, 100, 300, 500, 900])


@st.composite
def restrictions(draw: st.DrawFn) -> dict[str, Any]:
    r: dict[str, Any] = {}
    if draw(st.booleans()):
        r["start_time"], r["end_time"] = draw(TIMES), draw(TIMES)
    if draw(st.booleans()):
        r["min_kwh"] = draw(st.decimals(0, 30, places=1))
    if draw(st.booleans()):
        r["max_duration"] = draw(st.integers(600, 20000))
    if draw(st.booleans()):
        r["day_of_week"] = draw(st.lists(st.sampled_from(
            ["MONDAY", "TUESDAY", "SATURDAY", "SUNDAY"]), min_size=1, unique=True))
    if draw(st.booleans()):
        r["max_power"] = draw(st.decimals(3, 60, places=0))
    return r


@st.composite
def tariffs(draw: st.DrawFn, kinds: tuple[str, ...] = ("ENERGY", "TIME", "PARKING_TIME", "FLAT"),
            bounds: bool = False) -> Tariff:
    elements = []
    for _ in range(draw(st.integers(1, 4))):
        components = [{"type": k, "price": draw(PRICE), "step_size": draw(STEPS),
                       "vat": draw(st.sampled_from([None, D(7), D(19), D(20)]))}
                      for k in draw(st.lists(st.sampled_from(kinds), min_size=1, unique=True))]
        el: dict[str, Any] = {"price_components": components}
        if draw(st.booleans()):
            el["restrictions"] = draw(restrictions())
        elements.append(el)
    data: dict[str, Any] = {"country_code": "DE", "party_id": "EVB", "id": "P",
                            "currency": "EUR", "elements": elements,
                            "last_updated": "2024-01-01T00:00:00Z"}
    if bounds:
        low = draw(st.decimals(0, 5, places=2))
        data["min_price"] = {"excl_vat": low, "incl_vat": low * D("1.19")}
        high = low + draw(st.decimals(0, 20, places=2))
        data["max_price"] = {"excl_vat": high, "incl_vat": high * D("1.19")}
    return parse_tariff(data)


@st.composite
def sessions(draw: st.DrawFn) -> list[tuple[int, Decimal, bool]]:
    """Parts of (seconds, kW, charging)."""
    parts = []
    for _ in range(draw(st.integers(1, 5))):
        charging = draw(st.booleans())
        kw = draw(st.decimals(1, 50, places=1)) if charging else D(0)
        parts.append((draw(st.integers(60, 4 * 3600)), kw, charging))
    return parts


START = st.datetimes(min_value=datetime(2024, 3, 8), max_value=datetime(2024, 11, 5))


def samples_of(start: datetime, parts: list[tuple[int, Decimal, bool]],
               split: int = 1) -> list[MeterSample]:
    """The session's samples; `split` > 1 adds samples inside each part on the same line."""
    at, energy, out = start.replace(tzinfo=UTC), D(0), []
    for seconds, kw, charging in parts:
        for k in range(split):
            micros = seconds * 1_000_000 * k // split  # exact: the sample sits on the line
            out.append(MeterSample(at + timedelta(microseconds=micros),
                                   energy + kw * 1000 * micros / 3_600_000_000,
                                   kw * 1000, None, charging))
        at += timedelta(seconds=seconds)
        energy += kw * 1000 * seconds / 3600
    out.append(MeterSample(at, energy, D(0), None, False))
    return out


def total(r: PricedCdr) -> tuple[Decimal, Decimal]:
    return r.total_cost.excl_vat.amount, r.total_cost.incl_vat.amount


def close(a: Decimal, b: Decimal) -> bool:
    return abs(a - b) <= D("1e-9")


@settings(max_examples=150, deadline=None)
@given(tariffs(), sessions(), START, st.sampled_from(ZONES))
def test_cdr_path_and_timeline_path_agree(t: Tariff, parts: list[Any], start: datetime,
                                          tz: str) -> None:
    via_timeline = rate_timeline(t, tz, samples_of(start, parts))
    via_cdr = rate_cdr(t, tz, via_timeline.to_ocpi(places=None))
    assert all(close(a, b) for a, b in zip(total(via_timeline), total(via_cdr), strict=True))
    assert [line.kind for line in via_timeline.lines] == [line.kind for line in via_cdr.lines]


@settings(max_examples=120, deadline=None)
@given(tariffs(), sessions(), START, st.sampled_from(ZONES), st.integers(2, 5))
def test_sampling_does_not_change_the_price(t: Tariff, parts: list[Any], start: datetime,
                                            tz: str, split: int) -> None:
    coarse = rate_timeline(t, tz, samples_of(start, parts))
    fine = rate_timeline(t, tz, samples_of(start, parts, split))
    assert all(close(a, b) for a, b in zip(total(coarse), total(fine), strict=True))


@settings(max_examples=150, deadline=None)
@given(tariffs(kinds=("ENERGY",)), sessions(), START, st.sampled_from(ZONES),
       st.integers(60, 7200), st.decimals(1, 50, places=1))
def test_more_energy_never_costs_less_under_an_energy_only_tariff(
        t: Tariff, parts: list[Any], start: datetime, tz: str, extra_s: int,
        extra_kw: Decimal) -> None:
    base = rate_timeline(t, tz, samples_of(start, parts))
    longer = rate_timeline(t, tz, samples_of(start, [*parts, (extra_s, extra_kw, True)]))
    # Extending a session adds energy at a price ≥ 0. The only way back down is step_size:
    # the extra of the session's last rounding is billed at the last component's price, so a
    # decrease is bounded by one step at the dearest energy price (docs/pricing.md).
    comps = [c for e in t.elements for c in e.price_components]
    allowance = max(c.price * max(c.step_size, 0) for c in comps) / 1000
    assert total(longer)[0] >= total(base)[0] - allowance
    if all(c.step_size == 0 for c in comps):
        assert total(longer)[0] >= total(base)[0]


@settings(max_examples=150, deadline=None)
@given(tariffs(bounds=True), sessions(), START, st.sampled_from(ZONES),
       st.booleans())
def test_totals_equal_the_breakdown_and_stay_within_min_and_max(
        t: Tariff, parts: list[Any], start: datetime, tz: str, reserve: bool) -> None:
    if reserve:
        parts = [(900, D(0), False), *parts]
    r = rate_timeline(t, tz, samples_of(start, parts), reservation=reserve)
    excl, incl = total(r)
    assert excl == sum((line.amount_excl_vat for line in r.lines), D(0))
    assert incl == sum((line.amount_incl_vat for line in r.lines), D(0))
    parts_sum = (r.total_fixed_cost + r.total_energy_cost + r.total_time_cost
                 + r.total_parking_cost + r.total_reservation_cost)
    adjust = sum((line.amount_excl_vat for line in r.lines
                  if line.kind in (LineKind.MIN_PRICE, LineKind.MAX_PRICE)), D(0))
    # Different groupings of the same lines: equal up to the 28th significant digit of a
    # non-terminating quotient (e.g. a time cut at 163.63… s), not necessarily bit for bit.
    assert close(parts_sum.excl_vat.amount + adjust, excl)
    doc = r.document_total
    assert doc.excl_vat.amount == sum((line.rounded().excl_vat.amount for line in r.lines), D(0))
    assert t.min_price is not None and t.max_price is not None
    assert t.min_price.excl_vat <= excl <= t.max_price.excl_vat
    assert t.min_price.incl_vat is not None and t.max_price.incl_vat is not None
    assert t.min_price.incl_vat <= incl <= t.max_price.incl_vat
    for line in r.lines:
        if line.kind not in (LineKind.MIN_PRICE, LineKind.MAX_PRICE):
            assert line.quantity >= line.measured >= 0
