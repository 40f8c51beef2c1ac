"""A priced CDR as OCPI 2.2.1 CDR JSON fields (numbers as Decimal, 4 decimals by default)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from evbill.tariffs.model import format_datetime

if TYPE_CHECKING:
    from evbill.rating.types import Price, PricedCdr, PricedLine

__all__ = ["cdr_to_ocpi"]

#: Cost fields this module writes; any the partner sent in are replaced.
_COST_FIELDS = (
    "total_cost", "total_fixed_cost", "total_energy", "total_energy_cost", "total_time",
    "total_time_cost", "total_parking_time", "total_parking_cost", "total_reservation_cost",
)  # fmt: skip


def _q(value: Decimal, places: int | None) -> Decimal:
    if places is None:
        return value
    return value.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)


def _price(price: Price, places: int | None) -> dict[str, Decimal]:
    return {"excl_vat": _q(price.excl_vat.amount, places),
            "incl_vat": _q(price.incl_vat.amount, places)}


def cdr_to_ocpi(cdr: PricedCdr, *, places: int | None, breakdown: bool) -> dict[str, Any]:
    """OCPI CDR fields for `cdr`. A rated partner CDR keeps its own other fields."""
    out: dict[str, Any] = {}
    if cdr.source is not None:
        out.update((k, v) for k, v in cdr.source.items() if k not in _COST_FIELDS)
    elif cdr.cdr_id is not None:
        out["id"] = cdr.cdr_id
    out["start_date_time"] = format_datetime(cdr.start)
    out["end_date_time"] = format_datetime(cdr.end)
    out["currency"] = cdr.currency
    if cdr.source is None:
        out["tariffs"] = [cdr.tariff.to_ocpi()]
    out["charging_periods"] = [
        {"start_date_time": format_datetime(p.start),
         "dimensions": [{"type": t, "volume": _q(v, places)} for t, v in p.dimensions],
         "tariff_id": p.tariff_id}
        for p in cdr.periods
    ]
    out["total_cost"] = _price(cdr.total_cost, places)
    out["total_fixed_cost"] = _price(cdr.total_fixed_cost, places)
    out["total_energy"] = _q(cdr.total_energy, places)
    out["total_energy_cost"] = _price(cdr.total_energy_cost, places)
    out["total_time"] = _q(cdr.total_time, places)
    out["total_time_cost"] = _price(cdr.total_time_cost, places)
    out["total_parking_time"] = _q(cdr.total_parking_time, places)
    out["total_parking_cost"] = _price(cdr.total_parking_cost, places)
    if any(line.kind.startswith("RESERVATION") for line in cdr.lines) or any(
            t == "RESERVATION_TIME" for p in cdr.periods for t, _ in p.dimensions):
        out["total_reservation_cost"] = _price(cdr.total_reservation_cost, places)
    if breakdown:
        out["breakdown"] = [_line(line) for line in cdr.lines]
        out["document_total"] = _price(cdr.document_total, None)
    return out


def _line(line: PricedLine) -> dict[str, Any]:
    rounded = line.rounded()
    return {
        "type": line.kind.value,
        "quantity": line.quantity,
        "measured": line.measured,
        "unit": line.unit,
        "unit_price": line.unit_price,
        "vat": line.vat,
        "step_size": line.step_size,
        "tariff_element": line.element_index,
        "amount_excl_vat": rounded.excl_vat.amount,
        "amount_incl_vat": rounded.incl_vat.amount,
        "exact_excl_vat": line.amount_excl_vat,
        "exact_incl_vat": line.amount_incl_vat,
    }
