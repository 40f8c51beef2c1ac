"""Tariff parsing: the whole OCPI 2.2.1 object round-trips; broken tariffs name field and reason."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evbill.tariffs import (
    DayOfWeek,
    ReservationRestrictionType,
    TariffDimensionType,
    TariffError,
    TariffType,
    dumps,
    loads,
    parse_tariff,
    parse_tariff_json,
)

FULL = """{
  "country_code": "DE", "party_id": "EVB", "id": "AC-STANDARD-2024", "currency": "EUR",
  "type": "REGULAR",
  "tariff_alt_text": [{"language": "en", "text": "0.39 EUR/kWh, 0.10 EUR/min after 4 h"},
                      {"language": "de", "text": "0,39 EUR/kWh"}],
  "tariff_alt_url": "https://evbill.example/tariffs/ac",
  "min_price": {"excl_vat": 0.50, "incl_vat": 0.595},
  "max_price": {"excl_vat": 80, "incl_vat": 95.20},
  "elements": [
    {"price_components": [{"type": "FLAT", "price": 0.35, "vat": 19.0, "step_size": 1}]},
    {"price_components": [{"type": "ENERGY", "price": 0.3900, "vat": 19, "step_size": 100}],
     "restrictions": {"start_time": "22:00", "end_time": "06:00", "start_date": "2024-01-01",
                      "end_date": "2025-01-01", "min_kwh": 0.5, "max_kwh": 100,
                      "min_current": 6, "max_current": 32.5, "min_power": 1.4, "max_power": 22,
                      "min_duration": 0, "max_duration": 14400,
                      "day_of_week": ["MONDAY", "SATURDAY"]}},
    {"price_components": [{"type": "TIME", "price": 2.00, "step_size": 60},
                          {"type": "PARKING_TIME", "price": 6.00, "vat": 19, "step_size": 300}],
     "restrictions": {"min_duration": 600}},
    {"price_components": [{"type": "FLAT", "price": 1, "vat": 19, "step_size": 1},
                          {"type": "TIME", "price": 3.00, "vat": 19, "step_size": 600}],
     "restrictions": {"reservation": "RESERVATION"}}
  ],
  "start_date_time": "2024-01-01T00:00:00Z",
  "end_date_time": "2025-01-01T00:00:00.500Z",
  "energy_mix": {"is_green_energy": false,
                 "energy_sources": [{"source": "GENERAL_GREEN", "percentage": 35.9},
                                    {"source": "GAS", "percentage": 6.3}],
                 "environ_impact": [{"category": "CARBON_DIOXIDE", "amount": 372}],
                 "supplier_name": "E.ON Energy Deutschland",
                 "energy_product_name": "E.ON DirektStrom eco"},
  "last_updated": "2024-03-01T12:00:00+01:00"
}"""


def full() -> dict[str, Any]:
    data = loads(FULL)
    assert isinstance(data, dict)
    return data


def test_every_field_is_read() -> None:
    t = parse_tariff(full())
    assert t.type is TariffType.REGULAR
    assert [d.language for d in t.tariff_alt_text] == ["en", "de"]
    assert t.min_price is not None and t.min_price.incl_vat == Decimal("0.595")
    assert t.max_price is not None and t.max_price.excl_vat == 80
    r = t.elements[1].restrictions
    assert r is not None
    assert (r.start_time, r.end_time) == ("22:00", "06:00")
    assert (r.start_date, r.end_date) == (date(2024, 1, 1), date(2025, 1, 1))
    assert r.max_current == Decimal("32.5") and r.max_duration == 14400
    assert r.day_of_week == (DayOfWeek.MONDAY, DayOfWeek.SATURDAY)
    assert t.elements[1].price_components[0].price == Decimal("0.3900")
    assert t.elements[2].price_components[0].vat is None
    assert t.elements[3].restrictions is not None
    assert t.elements[3].restrictions.reservation is ReservationRestrictionType.RESERVATION
    assert t.elements[2].price_components[1].type is TariffDimensionType.PARKING_TIME
    assert t.energy_mix is not None and t.energy_mix.energy_sources[1].percentage == Decimal("6.3")
    assert t.last_updated == datetime(2024, 3, 1, 11, 0, tzinfo=UTC)
    assert t.end_date_time == datetime(2025, 1, 1, 0, 0, 0, 500000, tzinfo=UTC)


def test_round_trip_is_exact() -> None:
    t = parse_tariff(full())
    text = dumps(t.to_ocpi())
    assert parse_tariff(loads(text)) == t
    assert '"price": 0.3900' in text  # exact decimal text, never through float
    assert '"percentage": 35.9' in text
    assert '"end_date_time": "2025-01-01T00:00:00.500000Z"' in text
    assert '"last_updated": "2024-03-01T11:00:00Z"' in text


def test_plain_json_floats_are_taken_by_their_literal_text() -> None:
    t = parse_tariff(json.loads(FULL))  # floats, not Decimals
    assert t.elements[0].price_components[0].price == Decimal("0.35")
    assert t.min_price is not None and t.min_price.incl_vat == Decimal("0.595")
    assert t == parse_tariff(full())


def _broken(path: list[Any], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(full())
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


_DELETE = object()
RESTR = ["elements", 1, "restrictions"]
COMP = ["elements", 1, "price_components", 0]


@pytest.mark.parametrize(("path", "value", "message"), [
    (["currency"], _DELETE, "currency: is required"),
    (["currency"], "EURO", "currency: length 4 is outside 3..3"),
    (["currency"], "XXX", "currency: 'XXX' is not a supported ISO 4217 code"),
    (["type"], "CHEAP", "type: 'CHEAP' is not one of AD_HOC_PAYMENT"),
    (["country_code"], "DEU", "country_code: length 3"),
    (["id"], "x" * 37, "id: length 37 is outside 1..36"),
    (["elements"], [], "elements: must contain at least one entry"),
    (["elements"], {"a": 1}, "elements: expected a list"),
    (["elements", 0, "price_components"], [], "elements[0].price_components: must contain"),
    ([*COMP, "step_size"], -300, "elements[1].price_components[0].step_size: -300 is negative"),
    ([*COMP, "step_size"], Decimal("1.5"), "step_size: expected a whole number, got 1.5"),
    ([*COMP, "step_size"], "60", "step_size: expected a number, got the string '60'"),
    ([*COMP, "price"], float("nan"), "elements[1].price_components[0].price: nan is not a finite"),
    ([*COMP, "price"], float("inf"), "price: inf is not a finite number"),
    ([*COMP, "price"], True, "price: expected a number, got a boolean"),
    ([*COMP, "price"], Decimal("-0.10"), "price: -0.10 is negative"),
    ([*COMP, "vat"], 119, "vat: 119 is above 100 percent"),
    ([*COMP, "type"], "POWER", "elements[1].price_components[0].type: 'POWER' is not one of"),
    ([*RESTR, "start_time"], "24:00", "elements[1].restrictions.start_time: '24:00' is not a time"),
    ([*RESTR, "end_time"], "7:00", "restrictions.end_time: '7:00' is not a time of day HH:MM"),
    ([*RESTR, "start_date"], "2024-02-30", "start_date: '2024-02-30' is not a calendar date"),
    ([*RESTR, "end_date"], "01-01-2025", "end_date: '01-01-2025' is not a date YYYY-MM-DD"),
    ([*RESTR, "end_date"], "2023-12-31", "end_date: 2023-12-31 is not after start_date"),
    ([*RESTR, "max_kwh"], Decimal("0.5"), "restrictions.max_kwh: 0.5 is not above min_kwh"),
    ([*RESTR, "min_duration"], Decimal("10.5"), "min_duration: expected a whole number"),
    ([*RESTR, "day_of_week"], ["MONDAY", "MONDAY"], "day_of_week[1]: MONDAY is listed twice"),
    ([*RESTR, "day_of_week"], ["FUNDAY"], "day_of_week[0]: 'FUNDAY' is not one of MONDAY"),
    ([*RESTR, "reservation"], "YES", "restrictions.reservation: 'YES' is not one of RESERVATION"),
    (["elements", 2, "restrictions", "reservation"], "RESERVATION_EXPIRES", None),
    (["max_price", "excl_vat"], Decimal("0.1"), "min_price.excl_vat: 0.50 is above max_price"),
    (["min_price", "incl_vat"], Decimal("0.4"), "min_price.incl_vat: 0.4 is below excl_vat"),
    (["tariff_alt_url"], "ftp://x", "tariff_alt_url: 'ftp://x' is not an http(s) URL"),
    (["tariff_alt_text", 0, "language"], "eng", "tariff_alt_text[0].language: length 3"),
    (["last_updated"], "yesterday", "last_updated: 'yesterday' is not an RFC 3339 date-time"),
    (["last_updated"], _DELETE, "last_updated: is required"),
    (["end_date_time"], "2023-01-01T00:00:00Z", "end_date_time: is not after start_date_time"),
    (["energy_mix", "is_green_energy"], "no", "energy_mix.is_green_energy: expected true or false"),
    (["energy_mix", "energy_sources", 0, "percentage"], 120, "percentage: 120 is above 100"),
    (["energy_mix", "energy_sources", 1, "source"], "OIL", "energy_sources[1].source: 'OIL'"),
])
def test_broken_tariffs_are_rejected_with_the_field_path(path: list[Any], value: Any,
                                                         message: str | None) -> None:
    data = _broken(path, value)
    if message is None:
        with pytest.raises(TariffError, match=r"elements\[2\]\.price_components\[1\]\.type: "
                                              "PARKING_TIME cannot price a reservation"):
            parse_tariff(data)
        return
    with pytest.raises(TariffError) as caught:
        parse_tariff(data)
    assert message in str(caught.value)


def test_reservation_elements_only_take_flat_and_time() -> None:
    data = _broken(["elements", 2, "restrictions", "reservation"], "RESERVATION")
    data["elements"][2]["price_components"].pop()  # drop PARKING_TIME: TIME alone is fine
    restrictions = parse_tariff(data).elements[2].restrictions
    assert restrictions is not None and restrictions.reservation is not None


def test_null_is_the_same_as_absent_and_unknown_fields_are_ignored() -> None:
    data = full()
    data["type"] = None
    data["tax_included"] = "NO"  # a field from another OCPI version
    t = parse_tariff(data)
    assert t.type is None
    assert "tax_included" not in t.to_ocpi()


def test_not_an_object_and_bad_json() -> None:
    with pytest.raises(TariffError, match=r"^\(root\): expected an object"):
        parse_tariff([])  # type: ignore[arg-type]
    with pytest.raises(TariffError, match=r"^\(root\): not valid JSON"):
        parse_tariff_json("{")
    with pytest.raises(TariffError, match="not valid JSON"):
        parse_tariff_json('{"a": NaN}')
    with pytest.raises(TariffError, match="elements: is required"):
        parse_tariff_json('{"country_code": "DE", "party_id": "EVB", "id": "1", '
                          '"currency": "EUR", "last_updated": "2024-01-01T00:00:00Z"}')


def test_equal_start_and_end_time_is_accepted_as_the_whole_day() -> None:
    data = _broken([*RESTR, "end_time"], "22:00")
    assert parse_tariff(data).elements[1].restrictions.end_time == "22:00"  # type: ignore[union-attr]


prices = st.decimals(min_value=0, max_value=Decimal("999.9999"), places=4)
steps = st.integers(min_value=0, max_value=3600)
times = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59))


@st.composite
def tariffs(draw: st.DrawFn) -> dict[str, Any]:
    elements = []
    for _ in range(draw(st.integers(1, 4))):
        components = [{"type": draw(st.sampled_from(["ENERGY", "TIME", "PARKING_TIME", "FLAT"])),
                       "price": draw(prices), "step_size": draw(steps)}
                      for _ in range(draw(st.integers(1, 3)))]
        if draw(st.booleans()):
            components[0]["vat"] = draw(st.decimals(0, 100, places=2))
        el: dict[str, Any] = {"price_components": components}
        if draw(st.booleans()):
            days = draw(st.lists(st.sampled_from([d.value for d in DayOfWeek]), unique=True))
            el["restrictions"] = {"start_time": draw(times), "end_time": draw(times),
                                  "min_kwh": draw(prices), "day_of_week": days,
                                  "max_duration": draw(st.integers(1, 10**6))}
        elements.append(el)
    return {"country_code": "NL", "party_id": "ABC", "id": draw(st.text("ABC123-", min_size=1,
                                                                          max_size=36)),
            "currency": draw(st.sampled_from(["EUR", "USD", "JPY", "KWD"])), "elements": elements,
            "last_updated": "2024-01-01T00:00:00Z"}


@settings(max_examples=150, deadline=None)
@given(tariffs())
def test_property_round_trip_through_json_text(data: dict[str, Any]) -> None:
    t = parse_tariff(data)
    assert parse_tariff(loads(dumps(t.to_ocpi()))) == t
    assert parse_tariff(loads(dumps(t.to_ocpi(), indent=None))) == t
