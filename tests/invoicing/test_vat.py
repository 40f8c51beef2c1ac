"""VAT arithmetic: per-line rounding, sums per rate, gross splits, the configured rates."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evbill.invoicing.model import ComponentKind, DocumentError, DocumentLine
from evbill.invoicing.vat import (
    UnknownVatCountry,
    VatTable,
    allocate_vat,
    line_amounts,
    round_minor,
    split_gross,
    totals_of,
)

D = Decimal


@pytest.mark.parametrize(
    ("net", "rate", "currency", "expected"),
    [
        ("9.1476", "19", "EUR", ("9.15", "1.74", "10.89")),
        ("0.125", "19", "EUR", ("0.13", "0.02", "0.15")),  # half up at the line, then VAT
        ("0.005", "20", "EUR", ("0.01", "0.00", "0.01")),
        ("1234.5", "10", "JPY", ("1235", "124", "1359")),  # 123.5 → 124, half up
        ("1.0005", "8.1", "BHD", ("1.001", "0.081", "1.082")),
        ("3.00", "0", "EUR", ("3.00", "0.00", "3.00")),
    ],
)
def test_line_amounts_round_net_then_vat(
    net: str, rate: str, currency: str, expected: tuple[str, str, str]
) -> None:
    amounts = line_amounts(D(net), D(rate), currency)
    assert (str(amounts.net), str(amounts.vat), str(amounts.gross)) == expected


def _line(net: str, rate: str) -> DocumentLine:
    a = line_amounts(D(net), D(rate), "EUR")
    return DocumentLine(ComponentKind.ENERGY, "x", D(1), "kWh", D(net), D(rate),
                        a.net, a.vat, a.gross)  # fmt: skip


def test_totals_take_vat_on_the_sum_of_line_nets_highest_rate_first() -> None:
    lines = [_line("0.125", "19"), _line("0.125", "19"), _line("2.004", "7"), _line("1", "19")]
    totals = totals_of(lines, "EUR")
    assert [(s.rate, s.taxable, s.vat) for s in totals.by_rate] == [
        (D("19"), D("1.26"), D("0.24")),  # 0.13+0.13+1.00 = 1.26 × 19 % = 0.2394 (BR-CO-17)
        (D("7"), D("2.00"), D("0.14")),
    ]
    assert (totals.net, totals.vat, totals.gross) == (D("3.26"), D("0.38"), D("3.64"))


def test_four_hundred_sessions_owe_nineteen_percent_of_their_net() -> None:
    """The audit's case: 0.50 × 19 % = 0.095 rounded per line would be 0.10 on every line."""
    lines = [_line("0.50", "19") for _ in range(400)]
    totals = totals_of(lines, "EUR")
    assert (totals.net, totals.vat) == (D("200.00"), D("38.00"))
    allocated = allocate_vat(lines, totals, "EUR")
    assert sum((line.vat for line in allocated), D(0)) == D("38.00")
    assert {line.vat for line in allocated} <= {D("0.09"), D("0.10")}


def test_totals_of_nothing_is_zero_at_the_minor_unit() -> None:
    totals = totals_of([], "EUR")
    assert (str(totals.net), str(totals.gross), totals.by_rate) == ("0.00", "0.00", ())


@settings(max_examples=200)
@given(
    st.lists(
        st.tuples(st.decimals(min_value=-50, max_value=500, places=4),
                  st.sampled_from(["0", "5.5", "7", "19", "20", "21", "25.5"])),
        min_size=1, max_size=30,
    )
)  # fmt: skip
def test_every_figure_adds_up(items: list[tuple[Decimal, str]]) -> None:
    rounded = [_line(str(net), rate) for net, rate in items]
    totals = totals_of(rounded, "EUR")
    lines = allocate_vat(rounded, totals, "EUR")
    assert totals.net == sum((line.net for line in lines), D(0))
    assert totals.vat == sum((line.vat for line in lines), D(0))
    assert totals.gross == totals.net + totals.vat == sum((line.gross for line in lines), D(0))
    for subtotal in totals.by_rate:
        exact = subtotal.taxable * subtotal.rate / 100
        same = [line for line in lines if line.vat_rate == subtotal.rate]
        # BR-CO-17: the VAT of a rate is rate × its taxable amount, rounded once
        assert abs(subtotal.vat - exact) <= D("0.005")
        assert sum((line.vat for line in same), D(0)) == subtotal.vat
        assert subtotal.vat.as_tuple().exponent == -2


@settings(max_examples=200)
@given(st.decimals(min_value=D("0.01"), max_value=10_000, places=2),
       st.sampled_from(["0", "7", "19", "20", "25.5"]))  # fmt: skip
def test_split_gross_gives_back_exactly_the_gross(gross: Decimal, rate: str) -> None:
    split = split_gross(gross, D(rate), "EUR")
    assert split.net + split.vat == split.gross == gross
    assert abs(split.vat - split.net * D(rate) / 100) <= D("0.01")


def test_rates_from_configuration_and_tariff() -> None:
    table = VatTable.parse("DE=7, fr=5.5")
    assert table.rate_for("DE") == D("7")
    assert table.rate_for("FR") == D("5.5")
    assert table.rate_for("NL") == D("21")  # the default table underneath
    assert table.rate_for("DE", D("19")) == D("19")  # the tariff's own rate wins
    with pytest.raises(UnknownVatCountry, match="'US'"):
        table.rate_for("US")


@pytest.mark.parametrize("text", ["DE", "DE=abc", "DE=-1", "DE=100", "GER=19"])
def test_bad_rate_configuration_is_refused(text: str) -> None:
    with pytest.raises(DocumentError, match="vat_rates"):
        VatTable.parse(text)


def test_round_minor_uses_the_currency() -> None:
    assert str(round_minor(D("2.5"), "JPY")) == "3"
    assert str(round_minor(D("-0.125"), "EUR")) == "-0.13"
    assert str(round_minor(D("0.0005"), "KWD")) == "0.001"
