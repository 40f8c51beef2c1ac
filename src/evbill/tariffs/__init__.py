"""OCPI 2.2.1 tariffs: the validated model, parsing with field-path errors, exact JSON in/out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evbill.tariffs.jsonio import dumps, loads
from evbill.tariffs.model import (
    DayOfWeek,
    DisplayText,
    EnergyMix,
    EnergySource,
    EnergySourceCategory,
    EnvironmentalImpact,
    EnvironmentalImpactCategory,
    PriceComponent,
    ReservationRestrictionType,
    Tariff,
    TariffDimensionType,
    TariffElement,
    TariffPrice,
    TariffRestrictions,
    TariffType,
)
from evbill.tariffs.parse import TariffError, parse_tariff

__all__ = [
    "DayOfWeek",
    "DisplayText",
    "EnergyMix",
    "EnergySource",
    "EnergySourceCategory",
    "EnvironmentalImpact",
    "EnvironmentalImpactCategory",
    "PriceComponent",
    "ReservationRestrictionType",
    "Tariff",
    "TariffDimensionType",
    "TariffElement",
    "TariffError",
    "TariffPrice",
    "TariffRestrictions",
    "TariffType",
    "dumps",
    "loads",
    "parse_tariff",
    "parse_tariff_json",
]


def parse_tariff_json(text: str | bytes) -> Tariff:
    """Decode tariff JSON text (numbers as Decimal) and validate it; bad JSON is a TariffError."""
    try:
        data: Any = loads(text)
    except ValueError as err:
        raise TariffError("(root)", f"not valid JSON ({err})") from None
    if not isinstance(data, Mapping):
        raise TariffError("(root)", "expected a JSON object")
    return parse_tariff(data)
