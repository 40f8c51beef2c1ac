"""OCPI 2.2.1 Tariff objects as frozen values, and their exact OCPI JSON form (`to_ocpi`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

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
    "TariffPrice",
    "TariffRestrictions",
    "TariffType",
    "format_datetime",
]


class TariffType(StrEnum):
    AD_HOC_PAYMENT = "AD_HOC_PAYMENT"
    PROFILE_CHEAP = "PROFILE_CHEAP"
    PROFILE_FAST = "PROFILE_FAST"
    PROFILE_GREEN = "PROFILE_GREEN"
    REGULAR = "REGULAR"


class TariffDimensionType(StrEnum):
    ENERGY = "ENERGY"  # per kWh, step_size in Wh
    FLAT = "FLAT"  # once per session
    PARKING_TIME = "PARKING_TIME"  # per hour not charging, step_size in seconds
    TIME = "TIME"  # per hour charging, step_size in seconds


class DayOfWeek(StrEnum):
    MONDAY = "MONDAY"
    TUESDAY = "TUESDAY"
    WEDNESDAY = "WEDNESDAY"
    THURSDAY = "THURSDAY"
    FRIDAY = "FRIDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"

    @property
    def iso_index(self) -> int:
        """0 for Monday … 6 for Sunday, as `date.weekday()` counts."""
        return _DAYS.index(self)


_DAYS = tuple(DayOfWeek)


class ReservationRestrictionType(StrEnum):
    RESERVATION = "RESERVATION"
    RESERVATION_EXPIRES = "RESERVATION_EXPIRES"


class EnergySourceCategory(StrEnum):
    NUCLEAR = "NUCLEAR"
    GENERAL_FOSSIL = "GENERAL_FOSSIL"
    COAL = "COAL"
    GAS = "GAS"
    GENERAL_GREEN = "GENERAL_GREEN"
    SOLAR = "SOLAR"
    WIND = "WIND"
    WATER = "WATER"


class EnvironmentalImpactCategory(StrEnum):
    NUCLEAR_WASTE = "NUCLEAR_WASTE"
    CARBON_DIOXIDE = "CARBON_DIOXIDE"


def format_datetime(value: datetime) -> str:
    """OCPI DateTime: RFC 3339 in UTC with a `Z`, fractional seconds only when present."""
    utc = value.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat() + "Z"


@dataclass(frozen=True, slots=True)
class DisplayText:
    language: str  # ISO 639-1
    text: str

    def to_ocpi(self) -> dict[str, Any]:
        return {"language": self.language, "text": self.text}


@dataclass(frozen=True, slots=True)
class TariffPrice:
    """OCPI `Price` as a tariff bound (min_price / max_price); incl_vat is optional."""

    excl_vat: Decimal
    incl_vat: Decimal | None = None

    def to_ocpi(self) -> dict[str, Any]:
        out: dict[str, Any] = {"excl_vat": self.excl_vat}
        if self.incl_vat is not None:
            out["incl_vat"] = self.incl_vat
        return out


@dataclass(frozen=True, slots=True)
class EnergySource:
    source: EnergySourceCategory
    percentage: Decimal

    def to_ocpi(self) -> dict[str, Any]:
        return {"source": self.source.value, "percentage": self.percentage}


@dataclass(frozen=True, slots=True)
class EnvironmentalImpact:
    category: EnvironmentalImpactCategory
    amount: Decimal  # g/kWh

    def to_ocpi(self) -> dict[str, Any]:
        return {"category": self.category.value, "amount": self.amount}


@dataclass(frozen=True, slots=True)
class EnergyMix:
    is_green_energy: bool
    energy_sources: tuple[EnergySource, ...] = ()
    environ_impact: tuple[EnvironmentalImpact, ...] = ()
    supplier_name: str | None = None
    energy_product_name: str | None = None

    def to_ocpi(self) -> dict[str, Any]:
        out: dict[str, Any] = {"is_green_energy": self.is_green_energy}
        if self.energy_sources:
            out["energy_sources"] = [s.to_ocpi() for s in self.energy_sources]
        if self.environ_impact:
            out["environ_impact"] = [i.to_ocpi() for i in self.environ_impact]
        if self.supplier_name is not None:
            out["supplier_name"] = self.supplier_name
        if self.energy_product_name is not None:
            out["energy_product_name"] = self.energy_product_name
        return out


@dataclass(frozen=True, slots=True)
class PriceComponent:
    """One price: `price` per unit excl. VAT (per kWh, per hour, or per session for FLAT)."""

    type: TariffDimensionType
    price: Decimal
    step_size: int
    vat: Decimal | None = None  # percent; None = no VAT applicable (not the same as 0 %)

    def to_ocpi(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type.value, "price": self.price}
        if self.vat is not None:
            out["vat"] = self.vat
        out["step_size"] = self.step_size
        return out


@dataclass(frozen=True, slots=True)
class TariffRestrictions:
    """When a TariffElement is active. Times/dates are local wall-clock at the location."""

    start_time: str | None = None  # "HH:MM", inclusive
    end_time: str | None = None  # "HH:MM", exclusive; earlier than start_time = crosses midnight
    start_date: date | None = None  # inclusive
    end_date: date | None = None  # exclusive
    min_kwh: Decimal | None = None
    max_kwh: Decimal | None = None
    min_current: Decimal | None = None
    max_current: Decimal | None = None
    min_power: Decimal | None = None  # kW
    max_power: Decimal | None = None  # kW
    min_duration: int | None = None  # seconds, inclusive
    max_duration: int | None = None  # seconds, exclusive
    day_of_week: tuple[DayOfWeek, ...] = ()
    reservation: ReservationRestrictionType | None = None

    def to_ocpi(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in ("start_time", "end_time"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        for name in ("start_date", "end_date"):
            day = getattr(self, name)
            if day is not None:
                out[name] = day.isoformat()
        for name in _NUMBER_RESTRICTIONS:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.day_of_week:
            out["day_of_week"] = [d.value for d in self.day_of_week]
        if self.reservation is not None:
            out["reservation"] = self.reservation.value
        return out


_NUMBER_RESTRICTIONS = (
    "min_kwh", "max_kwh", "min_current", "max_current", "min_power", "max_power",
    "min_duration", "max_duration",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class TariffElement:
    price_components: tuple[PriceComponent, ...]
    restrictions: TariffRestrictions | None = None

    def to_ocpi(self) -> dict[str, Any]:
        out: dict[str, Any] = {"price_components": [c.to_ocpi() for c in self.price_components]}
        if self.restrictions is not None:
            out["restrictions"] = self.restrictions.to_ocpi()
        return out


@dataclass(frozen=True, slots=True)
class Tariff:
    """An OCPI 2.2.1 Tariff. Build it with `parse_tariff`, which validates every field."""

    country_code: str
    party_id: str
    id: str
    currency: str
    elements: tuple[TariffElement, ...]
    last_updated: datetime
    type: TariffType | None = None
    tariff_alt_text: tuple[DisplayText, ...] = ()
    tariff_alt_url: str | None = None
    min_price: TariffPrice | None = None
    max_price: TariffPrice | None = None
    start_date_time: datetime | None = None
    end_date_time: datetime | None = None
    energy_mix: EnergyMix | None = None

    def to_ocpi(self) -> dict[str, Any]:
        """The OCPI JSON object; numbers stay `Decimal` (serialise with `evbill.tariffs.dumps`)."""
        out: dict[str, Any] = {
            "country_code": self.country_code,
            "party_id": self.party_id,
            "id": self.id,
            "currency": self.currency,
        }
        if self.type is not None:
            out["type"] = self.type.value
        if self.tariff_alt_text:
            out["tariff_alt_text"] = [t.to_ocpi() for t in self.tariff_alt_text]
        if self.tariff_alt_url is not None:
            out["tariff_alt_url"] = self.tariff_alt_url
        if self.min_price is not None:
            out["min_price"] = self.min_price.to_ocpi()
        if self.max_price is not None:
            out["max_price"] = self.max_price.to_ocpi()
        out["elements"] = [e.to_ocpi() for e in self.elements]
        if self.start_date_time is not None:
            out["start_date_time"] = format_datetime(self.start_date_time)
        if self.end_date_time is not None:
            out["end_date_time"] = format_datetime(self.end_date_time)
        if self.energy_mix is not None:
            out["energy_mix"] = self.energy_mix.to_ocpi()
        out["last_updated"] = format_datetime(self.last_updated)
        return out
