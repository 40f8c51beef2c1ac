"""Charging power curves: AC flat at the charger's limit, DC tapering with the state of charge.

Pure functions on Decimal values; the simulator integrates them step by step.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Final

__all__ = [
    "AC_11KW",
    "DC_150KW",
    "BatteryState",
    "Charger",
    "CurrentType",
    "Vehicle",
    "charge_step",
    "current_a",
    "power_w",
]

_HUNDRED: Final = Decimal(100)
_SECONDS_PER_HOUR: Final = Decimal(3600)
_J_PER_PCT: Final = _SECONDS_PER_HOUR / _HUNDRED  # joules per Wh of capacity per percent
_TENTH: Final = Decimal("0.1")

# DC taper: fraction of the charger's maximum power by state of charge (piecewise linear).
# Flat to 50 %, then the battery's limit takes over: 45 % of peak at 80 %, 10 % at 100 %.
_DC_TAPER: Final[tuple[tuple[Decimal, Decimal], ...]] = (
    (Decimal(0), Decimal(1)),
    (Decimal(50), Decimal(1)),
    (Decimal(80), Decimal("0.45")),
    (Decimal(100), Decimal("0.10")),
)


class CurrentType(StrEnum):
    AC = "AC"
    DC = "DC"


@dataclass(frozen=True, slots=True)
class Charger:
    """One EVSE's power electronics."""

    current_type: CurrentType
    max_power_w: Decimal
    voltage_v: Decimal  # AC: phase voltage; DC: nominal battery voltage
    phases: int = 3


AC_11KW: Final = Charger(CurrentType.AC, Decimal(11_000), Decimal(230), phases=3)
DC_150KW: Final = Charger(CurrentType.DC, Decimal(150_000), Decimal(400), phases=1)


@dataclass(frozen=True, slots=True)
class Vehicle:
    """The car on the connector: battery size, charge at plug-in, where it stops by itself."""

    battery_wh: Decimal
    soc_percent: Decimal
    target_soc_percent: Decimal = _HUNDRED
    max_ac_power_w: Decimal = Decimal(11_000)

    def __post_init__(self) -> None:
        if self.battery_wh <= 0:
            raise ValueError(f"battery_wh: must be positive, got {self.battery_wh}")
        if not Decimal(0) <= self.soc_percent <= _HUNDRED:
            raise ValueError(f"soc_percent: must be within 0..100, got {self.soc_percent}")
        if not Decimal(0) <= self.target_soc_percent <= _HUNDRED:
            raise ValueError(
                f"target_soc_percent: must be within 0..100, got {self.target_soc_percent}"
            )


@dataclass(frozen=True, slots=True)
class BatteryState:
    """Where the charge stands: energy delivered so far in joules (W·s), kept exact."""

    vehicle: Vehicle
    delivered_j: Decimal = Decimal(0)

    @property
    def delivered_wh(self) -> Decimal:
        return self.delivered_j / _SECONDS_PER_HOUR

    @property
    def soc_percent(self) -> Decimal:
        soc = self.vehicle.soc_percent + self.delivered_j / (self.vehicle.battery_wh * _J_PER_PCT)
        return min(soc, self.vehicle.target_soc_percent)

    @property
    def room_j(self) -> Decimal:
        """Energy the car still takes before it reaches its target."""
        full = (self.vehicle.target_soc_percent - self.vehicle.soc_percent)
        return max(full * self.vehicle.battery_wh * _J_PER_PCT - self.delivered_j, Decimal(0))


def _dc_fraction(soc: Decimal) -> Decimal:
    for (soc_a, frac_a), (soc_b, frac_b) in itertools.pairwise(_DC_TAPER):
        if soc <= soc_b:
            return frac_a + (frac_b - frac_a) * (soc - soc_a) / (soc_b - soc_a)
    return _DC_TAPER[-1][1]


def power_w(charger: Charger, vehicle: Vehicle, soc_percent: Decimal) -> Decimal:
    """Power the car draws at this state of charge (0 once it reached its target)."""
    if soc_percent >= vehicle.target_soc_percent:
        return Decimal(0)
    if charger.current_type is CurrentType.AC:
        return min(charger.max_power_w, vehicle.max_ac_power_w).quantize(Decimal(1))
    return (charger.max_power_w * _dc_fraction(soc_percent)).quantize(Decimal(1))


def current_a(charger: Charger, power: Decimal) -> Decimal:
    """Current per phase (AC) or on the DC link, to 0.1 A, rounded half up."""
    amps = power / (charger.voltage_v * charger.phases)
    return amps.quantize(_TENTH, rounding=ROUND_HALF_UP)


def charge_step(charger: Charger, state: BatteryState, seconds: int) -> BatteryState:
    """Charge for `seconds` at the power drawn at the step's start.

    Energy is exact (integer watts times seconds) and never overshoots the car's target: the
    last step delivers only what still fits.
    """
    if seconds < 0:
        raise ValueError(f"seconds: must not be negative, got {seconds}")
    power = power_w(charger, state.vehicle, state.soc_percent)
    energy = min(power * seconds, state.room_j)
    return BatteryState(state.vehicle, state.delivered_j + energy)
