"""A tariff in plain words for the EVSE page, price per kWh first (EU AFIR, Art. 5):
energy, then time, parking and flat fees, each incl. VAT, with the conditions that apply."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from evbill.tariffs.model import PriceComponent, Tariff, TariffDimensionType, TariffRestrictions

__all__ = ["PriceLine", "describe_tariff"]

_ORDER = {TariffDimensionType.ENERGY: 0, TariffDimensionType.TIME: 1,
          TariffDimensionType.PARKING_TIME: 2, TariffDimensionType.FLAT: 3}  # fmt: skip
_MINUTES = Decimal(60)


@dataclass(frozen=True, slots=True)
class PriceLine:
    kind: str  # energy | time | parking | flat
    text: str  # "0.36 EUR per kWh"
    condition: str  # "" or "after 60 min", "22:00–06:00", …
    vat_note: str  # "incl. 19 % VAT" | "no VAT"

    @property
    def summary(self) -> str:
        """One line: "Parking: 0.119 EUR per minute (after 60 min)"."""
        label = {"energy": "Energy", "time": "Charging time", "parking": "Parking",
                 "flat": "Session fee"}[self.kind]  # fmt: skip
        return f"{label}: {self.text}" + (f" ({self.condition})" if self.condition else "")


def _incl_vat(component: PriceComponent) -> Decimal:
    rate = component.vat or Decimal(0)
    return component.price * (1 + rate / 100)


def _fmt(value: Decimal, places: int = 2) -> str:
    shown = value.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
    while places > 2 and shown == shown.quantize(Decimal(1).scaleb(1 - places)):
        places -= 1
        shown = shown.quantize(Decimal(1).scaleb(-places))
    return f"{shown:f}"


def _condition(r: TariffRestrictions | None) -> str:
    if r is None:
        return ""
    parts = []
    if r.start_time or r.end_time:
        parts.append(f"{r.start_time or '00:00'}–{r.end_time or '24:00'}")
    if r.day_of_week:
        parts.append(", ".join(d.value.title()[:3] for d in r.day_of_week))
    if r.min_duration:
        parts.append(f"after {r.min_duration // 60} min")
    if r.max_duration:
        parts.append(f"for the first {r.max_duration // 60} min")
    if r.min_kwh:
        parts.append(f"above {_fmt(r.min_kwh)} kWh")
    if r.max_kwh:
        parts.append(f"up to {_fmt(r.max_kwh)} kWh")
    if r.min_power or r.max_power:
        parts.append(f"at {_fmt(r.min_power or Decimal(0))}–{_fmt(r.max_power or Decimal(0))} kW"
                     if r.max_power else f"above {_fmt(r.min_power or Decimal(0))} kW")
    return "; ".join(parts)


def _text(component: PriceComponent, currency: str) -> tuple[str, str]:
    price = _incl_vat(component)
    kind = component.type
    if kind is TariffDimensionType.ENERGY:
        return "energy", f"{_fmt(price, 4)} {currency} per kWh"
    if kind is TariffDimensionType.FLAT:
        return "flat", f"{_fmt(price)} {currency} per session"
    per_minute = _fmt(price / _MINUTES, 4)
    label = "time" if kind is TariffDimensionType.TIME else "parking"
    return label, f"{per_minute} {currency} per minute"


def describe_tariff(tariff: Tariff) -> list[PriceLine]:
    """Every price component once, energy first; a component repeated under the same
    conditions in several elements is listed once."""
    lines: list[tuple[int, int, PriceLine]] = []
    seen: set[tuple[str, str, str]] = set()
    for index, element in enumerate(tariff.elements):
        condition = _condition(element.restrictions)
        for component in element.price_components:
            kind, text = _text(component, tariff.currency)
            if (kind, text, condition) in seen:
                continue
            seen.add((kind, text, condition))
            vat = f"incl. {_fmt(component.vat, 1).rstrip('0').rstrip('.')} % VAT" \
                if component.vat is not None else "no VAT"
            lines.append((_ORDER[component.type], index, PriceLine(kind, text, condition, vat)))
    return [line for _, _, line in sorted(lines, key=lambda t: (t[0], t[1]))]
