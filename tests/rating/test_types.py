"""The result types keep frozen-dataclass behaviour with their hand-written `__init__`s."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from evbill.rating import LineKind, PricedCdr, PricedLine, PricedPeriod

from .builders import comp, element, tariff

D = Decimal
AT = datetime(2024, 6, 10, 10, tzinfo=UTC)


def test_lines_periods_and_cdrs_store_every_field_by_position_and_name() -> None:
    line = PricedLine(LineKind.TIME, D(2), D("1.5"), D("0.3"), D(19), D("0.6"), D("0.714"),
                      "EUR", 1, 60)
    assert dataclasses.astuple(line) == (LineKind.TIME, D(2), D("1.5"), D("0.3"), D(19),
                                         D("0.6"), D("0.714"), "EUR", 1, 60)
    assert PricedLine(LineKind.FLAT, D(1), D(1), D(1), None, D(1), D(1), "EUR").step_size is None
    assert dataclasses.replace(line, step_size=300).step_size == 300
    period = PricedPeriod(start=AT, dimensions=(("TIME", D("1.5")),), tariff_id="T1")
    assert (period.start, period.dimensions, period.tariff_id) == (AT, (("TIME", D("1.5")),),
                                                                  "T1")
    t = tariff(element(comp("TIME", "0.3")))
    cdr = PricedCdr(t, "C1", AT, AT, (period,), (line,), D(0), D("1.5"), D(0))
    assert cdr.source is None and cdr.total_cost.excl_vat.amount == D("0.6")
    assert cdr == PricedCdr(t, "C1", AT, AT, (period,), (line,), D(0), D("1.5"), D(0), {"x": 1})
    assert line == dataclasses.replace(line) and hash(line) == hash(dataclasses.replace(line))


def test_results_stay_frozen() -> None:
    line = PricedLine(LineKind.FLAT, D(1), D(1), D(1), None, D(1), D(1), "EUR")
    with pytest.raises(dataclasses.FrozenInstanceError):
        line.quantity = D(2)  # type: ignore[misc]
    period = PricedPeriod(AT, (), "T1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        period.tariff_id = "T2"  # type: ignore[misc]
