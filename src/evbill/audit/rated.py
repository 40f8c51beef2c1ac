"""What a stored CDR says a session cost: its net total and the rounding allowance.

The CDR (OCPI) carries its total and one total per cost dimension, exact to 4 decimals; the
payment and the documents add up per-line rounded amounts. Each line is off by at most half a
minor unit, so the rated total may lie that far from them per line the CDR can have been split
into: one per tariff element and cost dimension, plus a min/max price adjustment.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from evbill.money import minor_unit

__all__ = ["COST_FIELDS", "rated_net"]

COST_FIELDS: Final = ("total_fixed_cost", "total_energy_cost", "total_time_cost",
                      "total_parking_cost", "total_reservation_cost")  # fmt: skip


def _excl(price: object) -> Decimal:
    if isinstance(price, Mapping) and price.get("excl_vat") is not None:
        return Decimal(str(price["excl_vat"]))
    return Decimal(0)


def rated_net(cdr: Mapping[str, Any], currency: str) -> tuple[Decimal, Decimal]:
    """(net total excl. VAT, allowance) of a CDR as stored (OCPI JSON, numbers as Decimal)."""
    parts = [_excl(cdr.get(name)) for name in COST_FIELDS]
    by_parts = sum(parts, Decimal(0))
    total = _excl(cdr["total_cost"]) if cdr.get("total_cost") else by_parts
    breakdown = cdr.get("breakdown")
    if isinstance(breakdown, list):
        lines = len(breakdown)
    else:
        elements = sum(len(t.get("elements") or ()) for t in cdr.get("tariffs") or ()) or 1
        lines = elements * sum(1 for p in parts if p) + (1 if total != by_parts else 0)
    half = Decimal(1).scaleb(-minor_unit(currency)) / 2
    return total, half * max(lines, 1)
