"""Each restriction, table-driven: which element prices a CDR period (min inclusive, max not)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from evbill.rating import RatingError, rate_cdr

from .builders import D, cdr, comp, element, money, tariff

BERLIN = "Europe/Berlin"


def priced(restrictions: dict[str, Any], *periods: tuple[str, dict[str, str]],
           tz: str = BERLIN) -> Decimal:
    """Total with element A (1.00/kWh, restricted) before fallback B (free)."""
    t = tariff(element(comp("ENERGY", "1.00"), **restrictions), element(comp("ENERGY", "0")))
    end = (datetime.fromisoformat(periods[-1][0]) + timedelta(hours=1)).isoformat()
    return money(rate_cdr(t, tz, cdr(periods[0][0], end, *periods)))[0]


def probe(local_utc: str, **dims: str) -> tuple[str, dict[str, str]]:
    return (local_utc, {"ENERGY": "1", "TIME": "0.5", **dims})


# 2024-06-10 is a Monday; Berlin is UTC+2 in June.
@pytest.mark.parametrize(("restrictions", "at", "expected"), [
    ({"start_time": "08:00", "end_time": "18:00"}, "2024-06-10T05:59:59Z", 0),  # 07:59:59
    ({"start_time": "08:00", "end_time": "18:00"}, "2024-06-10T06:00:00Z", 1),  # 08:00 inclusive
    ({"start_time": "08:00", "end_time": "18:00"}, "2024-06-10T15:59:00Z", 1),
    ({"start_time": "08:00", "end_time": "18:00"}, "2024-06-10T16:00:00Z", 0),  # 18:00 exclusive
    ({"start_time": "22:00", "end_time": "06:00"}, "2024-06-10T19:59:00Z", 0),  # 21:59
    ({"start_time": "22:00", "end_time": "06:00"}, "2024-06-10T20:00:00Z", 1),  # 22:00
    ({"start_time": "22:00", "end_time": "06:00"}, "2024-06-10T22:00:00Z", 1),  # 00:00
    ({"start_time": "22:00", "end_time": "06:00"}, "2024-06-11T03:59:00Z", 1),  # 05:59
    ({"start_time": "22:00", "end_time": "06:00"}, "2024-06-11T04:00:00Z", 0),  # 06:00
    ({"start_time": "12:00"}, "2024-06-10T09:59:00Z", 0),
    ({"start_time": "12:00"}, "2024-06-10T21:59:00Z", 1),  # until midnight
    ({"end_time": "12:00"}, "2024-06-09T22:00:00Z", 1),  # from midnight
    ({"end_time": "12:00"}, "2024-06-10T10:00:00Z", 0),
    ({"start_time": "10:00", "end_time": "10:00"}, "2024-06-10T03:00:00Z", 1),  # whole day
    ({"start_date": "2024-06-11"}, "2024-06-10T21:59:00Z", 0),  # local 23:59 on the 10th
    ({"start_date": "2024-06-11"}, "2024-06-10T22:00:00Z", 1),  # local midnight: the 11th
    ({"end_date": "2024-06-11"}, "2024-06-10T21:59:00Z", 1),
    ({"end_date": "2024-06-11"}, "2024-06-10T22:00:00Z", 0),  # end_date is exclusive
    ({"day_of_week": ["MONDAY"]}, "2024-06-09T21:59:00Z", 0),  # Sunday 23:59 local
    ({"day_of_week": ["MONDAY"]}, "2024-06-09T22:00:00Z", 1),  # Monday 00:00 local
    ({"day_of_week": ["SATURDAY", "SUNDAY"]}, "2024-06-10T10:00:00Z", 0),
    ({"day_of_week": ["FRIDAY"], "start_time": "22:00", "end_time": "06:00"},
     "2024-06-14T23:00:00Z", 0),  # Saturday 01:00: the calendar day decides (docs/pricing.md)
    ({"day_of_week": ["FRIDAY"], "start_time": "22:00", "end_time": "06:00"},
     "2024-06-14T21:00:00Z", 1),  # Friday 23:00
])
def test_time_date_and_day_restrictions_use_local_time(restrictions: dict[str, Any], at: str,
                                                       expected: int) -> None:
    assert priced(restrictions, probe(at)) == expected


@pytest.mark.parametrize(("restrictions", "dims", "expected"), [
    ({"min_power": "11"}, {"MIN_POWER": "11", "MAX_POWER": "22"}, 1),  # min inclusive
    ({"min_power": "11"}, {"MIN_POWER": "10.99", "MAX_POWER": "22"}, 0),
    ({"max_power": "22"}, {"MIN_POWER": "3", "MAX_POWER": "21.99"}, 1),
    ({"max_power": "22"}, {"MIN_POWER": "3", "MAX_POWER": "22"}, 0),  # max exclusive
    ({"max_power": "22"}, {"POWER": "7"}, 1),  # a single power value stands for both
    ({"max_power": "22"}, {}, 0),  # unknown power never satisfies a band while charging
    ({"min_current": "16"}, {"MIN_CURRENT": "16", "MAX_CURRENT": "32"}, 1),
    ({"min_current": "16"}, {"MIN_CURRENT": "15.9", "MAX_CURRENT": "32"}, 0),
    ({"max_current": "32"}, {"MAX_CURRENT": "31.9", "MIN_CURRENT": "6"}, 1),
    ({"max_current": "32"}, {"MAX_CURRENT": "32", "MIN_CURRENT": "6"}, 0),
    ({"min_current": "6", "max_current": "16"}, {"CURRENT": "10"}, 1),
])
def test_power_and_current_bands(restrictions: dict[str, Any], dims: dict[str, str],
                                 expected: int) -> None:
    assert priced(restrictions, probe("2024-06-10T10:00:00Z", **dims)) == expected


@pytest.mark.parametrize(("restrictions", "expected"), [
    ({"min_kwh": "10"}, 1),  # the probe starts at exactly 10 kWh: inclusive
    ({"min_kwh": "10.001"}, 0),
    ({"max_kwh": "10"}, 10),  # the first period (0 → 10 kWh) is in, the probe (from 10) is out
    ({"max_kwh": "10.001"}, 11),
    ({"min_duration": 3600}, 1),  # the probe starts 3600 s into the session: inclusive
    ({"min_duration": 3601}, 0),
    ({"max_duration": 3600}, 10),  # exclusive
    ({"max_duration": 3601}, 11),
])
def test_energy_and_duration_thresholds(restrictions: dict[str, Any], expected: int) -> None:
    first = ("2024-06-10T10:00:00Z", {"ENERGY": "10", "TIME": "1"})
    assert priced(restrictions, first, probe("2024-06-10T11:00:00Z")) == expected


def test_reservation_elements_only_price_reservation_time() -> None:
    t = tariff(element(comp("TIME", "6.00"), reservation="RESERVATION"),
               element(comp("TIME", "1.00")))
    r = rate_cdr(t, BERLIN, cdr("2024-06-10T10:00:00Z", "2024-06-10T12:00:00Z",
                                ("2024-06-10T10:00:00Z", {"RESERVATION_TIME": "0.5"}),
                                ("2024-06-10T10:30:00Z", {"TIME": "1.5", "ENERGY": "3"})))
    assert money(r)[0] == D("4.50")  # 0.5 h × 6.00 + 1.5 h × 1.00
    assert r.total_reservation_cost.excl_vat.amount == 3
    assert r.total_time == D("1.5")


def test_first_matching_element_wins_for_each_dimension_separately() -> None:
    t = tariff(element(comp("TIME", "9.00"), start_time="00:00", end_time="06:00"),
               element(comp("ENERGY", "0.30"), comp("TIME", "1.00")),
               element(comp("ENERGY", "5.00"), comp("PARKING_TIME", "2.00")))
    r = rate_cdr(t, BERLIN, cdr("2024-06-10T10:00:00Z", "2024-06-10T12:00:00Z",
                                ("2024-06-10T10:00:00Z", {"ENERGY": "10", "TIME": "1"}),
                                ("2024-06-10T11:00:00Z", {"PARKING_TIME": "1"})))
    # energy from element 1 (0.30), time from element 1 (1.00), parking from element 2
    assert money(r)[0] == D("3.00") + D("1.00") + D("2.00")


@pytest.mark.parametrize(("doc", "message"), [
    ({"charging_periods": []}, "charging_periods: at least one"),
    ({"start_date_time": "soon"}, "start_date_time: 'soon' is not an RFC 3339"),
    ({"currency": "USD"}, "currency: CDR is in 'USD', tariff T1 in 'EUR'"),
    ({"charging_periods": [{"start_date_time": "2024-06-10T10:00:00Z",
                            "dimensions": [{"type": "WATTS", "volume": 1}]}]},
     r"charging_periods\[0\].dimensions\[0\].type: 'WATTS' is not a CdrDimensionType"),
    ({"charging_periods": [{"start_date_time": "2024-06-10T10:00:00Z",
                            "dimensions": [{"type": "ENERGY", "volume": "lots"}]}]},
     r"charging_periods\[0\].dimensions\[0\].volume: 'lots' is not a number"),
    ({"charging_periods": [{"start_date_time": "2024-06-10T10:00:00Z",
                            "dimensions": [{"type": "ENERGY", "volume": D(-1)}]}]},
     "negative energy or time is not supported"),
    ({"charging_periods": [{"start_date_time": "2024-06-10T11:00:00Z",
                            "dimensions": [{"type": "ENERGY", "volume": 1}]},
                           {"start_date_time": "2024-06-10T10:00:00Z",
                            "dimensions": [{"type": "ENERGY", "volume": 1}]}]},
     "not in chronological order"),
])
def test_broken_cdrs_are_refused_with_the_field(doc: dict[str, Any], message: str) -> None:
    t = tariff(element(comp("ENERGY", "0.30")))
    data = cdr("2024-06-10T10:00:00Z", "2024-06-10T12:00:00Z",
               ("2024-06-10T10:00:00Z", {"ENERGY": "1"}))
    data.update(doc)
    with pytest.raises(RatingError, match=message):
        rate_cdr(t, BERLIN, data)


def test_unknown_time_zone_is_refused() -> None:
    t = tariff(element(comp("ENERGY", "0.30")))
    with pytest.raises(RatingError, match="tz: 'Mars/Olympus' is not an IANA time zone"):
        rate_cdr(t, "Mars/Olympus", cdr("2024-06-10T10:00:00Z", "2024-06-10T12:00:00Z",
                                        ("2024-06-10T10:00:00Z", {"ENERGY": "1"})))


def test_float_volumes_from_plain_json_are_read_by_their_text() -> None:
    t = tariff(element(comp("ENERGY", "0.30", 1, "19")))
    data = cdr("2024-06-10T10:00:00Z", "2024-06-10T12:00:00Z",
               ("2024-06-10T10:00:00Z", {"ENERGY": "1"}))
    data["charging_periods"][0]["dimensions"][0]["volume"] = 12.345  # a float
    assert money(rate_cdr(t, BERLIN, data)) == (D("3.7035"), D("4.407165"))
