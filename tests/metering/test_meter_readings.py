"""Readings as firmware sends them, brought to Wh with the precision it reported."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D
from typing import Any

import pytest
from ocpp.exceptions import PropertyConstraintViolationError

from evbill.metering.readings import resolution, same_reading, to_wh
from evbill.ocpp.translate import parse_time, reading_from_samples

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("value", "unit", "multiplier", "wh"), [
    ("66.25", "Wh", 0, "66.25"),
    ("66", "Wh", 0, "66"),
    ("0.066", "kWh", 0, "66"),
    ("12.345", "KWH", 0, "12345"),
    ("1.5", "Wh", 3, "1500"),  # 2.x unitOfMeasure: Wh × 10³
    ("15", "kWh", -1, "1500"),
])  # fmt: skip
def test_every_unit_becomes_wh(value: str, unit: str, multiplier: int, wh: str) -> None:
    converted = to_wh(D(value), unit, multiplier)
    assert converted == D(wh)
    assert str(converted.normalize()) == str(D(wh).normalize())


def test_conversion_keeps_the_reported_precision() -> None:
    assert resolution(to_wh(D("0.066"), "kWh")) == 1  # whole Wh, not 66.000
    assert resolution(to_wh(D("12.34"), "kWh")) == 10  # 10 Wh steps
    assert resolution(D("66.25")) == D("0.01")
    with pytest.raises(ValueError, match="not an energy unit"):
        to_wh(D(1), "W")


def test_a_coarser_copy_of_a_reading_is_the_same_reading() -> None:
    assert same_reading(D("66.25"), D("66"))  # 1.6 integer meterStop after a decimal sample
    assert same_reading(D("66.99"), D("66"))
    assert not same_reading(D("66.25"), D("65"))  # a real fall of more than the step
    assert not same_reading(D("5200"), D("10"))  # a register reset
    assert same_reading(D("100"), D("100.5"))  # rising is never a fall
    # the coarser of the two steps counts: 12340 is whole Wh, 12339.5 half a Wh below it
    assert same_reading(D("12340"), D("12339.5"))
    assert not same_reading(D("66.25"), D("66.1"))  # both to 0.1 Wh or finer: a fall


def _sample(value: str, **kw: Any) -> dict[str, Any]:
    return {"value": value, **kw}


@pytest.mark.parametrize(("samples", "wh"), [
    # 1.6, decimal Wh (the simulator's style)
    ([_sample("66.25", measurand="Energy.Active.Import.Register", unit="Wh")], "66.25"),
    # 1.6, kWh with its unit
    ([_sample("1.234", measurand="Energy.Active.Import.Register", unit="kWh")], "1234"),
    # 1.6, no measurand and no unit: the default register in Wh, integers
    ([_sample("1234")], "1234"),
    # 2.x, Wh with a multiplier
    ([{"value": D("1.5"), "measurand": "Energy.Active.Import.Register",
       "unit_of_measure": {"unit": "Wh", "multiplier": 3}}], "1500"),
    # 2.x, kWh, number
    ([{"value": D("2.25"), "unit_of_measure": {"unit": "kWh"}}], "2250"),
    # an interval value beside the register: the register is the energy
    ([_sample("5", measurand="Energy.Active.Import.Interval", unit="kWh"),
      _sample("40000", measurand="Energy.Active.Import.Register", unit="Wh")], "40000"),
])  # fmt: skip
def test_firmware_styles_give_the_register_in_wh(samples: list[dict[str, Any]], wh: str) -> None:
    reading = reading_from_samples(AT, samples, "meterValue[0]")
    assert reading.energy_wh == D(wh)


def test_an_interval_value_alone_is_no_register_reading() -> None:
    only_interval = [_sample("5", measurand="Energy.Active.Import.Interval", unit="kWh")]
    assert reading_from_samples(AT, only_interval, "mv").energy_wh is None


@pytest.mark.parametrize("stamp", ["9999-12-31T23:59:59Z", "1970-01-01T00:00:00Z",
                                   "2100-01-01T00:00:00Z"])
def test_timestamps_out_of_range_are_refused(stamp: str) -> None:
    with pytest.raises(PropertyConstraintViolationError, match="out of range"):
        parse_time(stamp, "timestamp")
    assert parse_time("2099-12-31T23:59:59Z", "timestamp").year == 2099
