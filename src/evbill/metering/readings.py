"""Energy readings as stations send them, brought to Wh as exact Decimals (pure).

Firmware reports the import register in Wh with decimals, in whole Wh (the OCPP 1.6
`meterStart`/`meterStop` are integers), in kWh, or in Wh with a power-of-ten multiplier
(2.x `unitOfMeasure`). Every value becomes Wh by moving its decimal point (`scaleb`), never by
multiplying, so the number keeps the precision the station reported: `0.066` kWh is `66` Wh
(whole Wh), `66.25` Wh stays two decimals. That precision is what `same_reading` uses to tell
a coarser copy of the same register value (a 1.6 integer `meterStop` of 66 after a sample
of 66.25) from a register that really went down.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Final

__all__ = ["ENERGY_UNITS", "resolution", "same_reading", "to_wh", "unit_exponent"]

#: Energy units (compared case-insensitively) → the power of ten that makes them Wh.
ENERGY_UNITS: Final[Mapping[str, int]] = {"wh": 0, "kwh": 3, "mwh": 6}
_ONE: Final = Decimal(1)


def unit_exponent(unit: str) -> int | None:
    """The power of ten from `unit` to Wh (`kWh` → 3), None if it is no energy unit."""
    return ENERGY_UNITS.get(unit.strip().lower())


def to_wh(value: Decimal, unit: str = "Wh", multiplier: int = 0) -> Decimal:
    """`value` `unit` × 10^`multiplier` in Wh, keeping the reported precision.

    Raises ValueError for a unit that is not an energy unit.
    """
    exponent = unit_exponent(unit)
    if exponent is None:
        raise ValueError(f"unit: {unit!r} is not an energy unit (Wh, kWh)")
    return value.scaleb(exponent + multiplier)


def resolution(value: Decimal) -> Decimal:
    """The step of the reported value: `66` → 1 Wh, `66.25` → 0.01 Wh, `6.6E+1` → 10 Wh."""
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int), "readings are finite"
    return _ONE.scaleb(exponent)


def same_reading(earlier: Decimal, later: Decimal) -> bool:
    """Whether a `later` value below `earlier` is the same register reading, reported coarser.

    The later value is the same reading when the drop is smaller than the step of the coarser
    of the two (a whole-Wh `meterStop` 66 after a sample 66.25 is the register at 66.25
    rounded down; 65 after 66.25 is a fall). A value at or above `earlier` is not a drop.
    """
    if later >= earlier:
        return True
    return earlier - later < max(resolution(earlier), resolution(later))
