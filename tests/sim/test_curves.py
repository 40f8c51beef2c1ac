"""Power curves and exact energy integration of the simulator."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evbill.sim.curves import (
    AC_11KW,
    DC_150KW,
    BatteryState,
    Vehicle,
    charge_step,
    current_a,
    power_w,
)

CAR = Vehicle(battery_wh=Decimal(77_000), soc_percent=Decimal(10))


def test_ac_is_flat_at_11_kw_until_the_target() -> None:
    assert power_w(AC_11KW, CAR, Decimal(10)) == Decimal(11_000)
    assert power_w(AC_11KW, CAR, Decimal("99.9")) == Decimal(11_000)
    assert power_w(AC_11KW, CAR, Decimal(100)) == 0


def test_ac_is_limited_by_the_cars_onboard_charger() -> None:
    car = Vehicle(Decimal(40_000), Decimal(10), max_ac_power_w=Decimal(7_400))
    assert power_w(AC_11KW, car, Decimal(50)) == Decimal(7_400)


def test_dc_tapers_from_150_kw_by_state_of_charge() -> None:
    assert power_w(DC_150KW, CAR, Decimal(20)) == Decimal(150_000)
    assert power_w(DC_150KW, CAR, Decimal(50)) == Decimal(150_000)
    assert power_w(DC_150KW, CAR, Decimal(80)) == Decimal(67_500)
    assert power_w(DC_150KW, CAR, Decimal(90)) == Decimal(41_250)
    assert power_w(DC_150KW, CAR, Decimal(100)) == 0


@settings(max_examples=150)
@given(st.decimals(min_value=0, max_value=99, places=2), st.decimals(min_value=0, max_value=99,
                                                                    places=2))
def test_dc_power_never_rises_with_state_of_charge(a: Decimal, b: Decimal) -> None:
    low, high = sorted((a, b))
    assert power_w(DC_150KW, CAR, low) >= power_w(DC_150KW, CAR, high)


def test_current_per_phase_and_on_the_dc_link() -> None:
    assert current_a(AC_11KW, Decimal(11_000)) == Decimal("15.9")  # 11 kW / (3 × 230 V)
    assert current_a(DC_150KW, Decimal(150_000)) == Decimal("375.0")


def test_two_hours_of_ac_is_exactly_22_kwh() -> None:
    state = BatteryState(CAR)
    for _ in range(120):
        state = charge_step(AC_11KW, state, 60)
    assert state.delivered_wh == Decimal(22_000)
    assert state.soc_percent == Decimal(10) + Decimal(22_000) * 100 / Decimal(77_000)


@settings(max_examples=150)
@given(
    soc=st.decimals(min_value=0, max_value=100, places=1),
    target=st.decimals(min_value=0, max_value=100, places=1),
    steps=st.lists(st.integers(min_value=0, max_value=900), max_size=40),
    dc=st.booleans(),
)
def test_energy_never_overshoots_the_target(soc: Decimal, target: Decimal, steps: list[int],
                                            dc: bool) -> None:
    car = Vehicle(Decimal(50_000), soc, target_soc_percent=target)
    state = BatteryState(car)
    for seconds in steps:
        before = state.delivered_j
        state = charge_step(DC_150KW if dc else AC_11KW, state, seconds)
        assert state.delivered_j >= before
    assert state.delivered_wh <= max(target - soc, Decimal(0)) * car.battery_wh / 100
    assert state.soc_percent <= max(target, soc)


def test_a_vehicle_with_an_impossible_state_of_charge_is_refused() -> None:
    with pytest.raises(ValueError, match="soc_percent"):
        Vehicle(Decimal(50_000), Decimal(101))
    with pytest.raises(ValueError, match="battery_wh"):
        Vehicle(Decimal(0), Decimal(10))
