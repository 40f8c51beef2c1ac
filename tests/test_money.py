"""Money: exact decimals, one currency at a time, rounding only where named."""

from decimal import ROUND_HALF_EVEN, Decimal

import pytest

from evbill.money import (
    CurrencyMismatch,
    InvalidAmount,
    Money,
    UnknownCurrency,
    minor_unit,
    sum_money,
)


def test_exact_arithmetic_keeps_every_digit() -> None:
    a = Money.of("0.1", "EUR") + Money.of("0.2", "EUR")
    assert a == Money.of("0.3", "EUR")
    assert (Money.of("0.25", "EUR") * Decimal("3.3333")).amount == Decimal("0.833325")


def test_adding_two_currencies_is_an_error() -> None:
    with pytest.raises(CurrencyMismatch):
        _ = Money.of(1, "EUR") + Money.of(1, "USD")
    with pytest.raises(CurrencyMismatch):
        _ = Money.of(1, "EUR") < Money.of(1, "USD")


@pytest.mark.parametrize("bad", [0.1, 1e3, True, "abc", "NaN", "Infinity", None])
def test_floats_and_garbage_are_refused(bad: object) -> None:
    with pytest.raises(InvalidAmount):
        Money.of(bad, "EUR")


def test_unknown_currency_is_refused() -> None:
    with pytest.raises(UnknownCurrency):
        Money.of(1, "XXX")
    with pytest.raises(UnknownCurrency):
        Money.of(1, "eur")


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("1.005", "EUR", "1.01"),  # half up, not banker's
        ("1.004999", "EUR", "1.00"),
        ("-1.005", "EUR", "-1.01"),  # half up is symmetric (away from zero at .5)
        ("149.5", "JPY", "150"),
        ("1.2345", "KWD", "1.235"),
    ],
)
def test_round_to_minor_unit_half_up(amount: str, currency: str, expected: str) -> None:
    assert Money.of(amount, currency).round_to_minor().amount == Decimal(expected)


def test_rounding_rule_can_be_named() -> None:
    assert Money.of("1.005", "EUR").round_to_minor(ROUND_HALF_EVEN).amount == Decimal("1.00")
    assert Money.of("2.71828", "EUR").quantize(4).amount == Decimal("2.7183")


def test_minor_units_and_sum_and_json() -> None:
    assert minor_unit("EUR") == 2 and minor_unit("JPY") == 0 and minor_unit("BHD") == 3
    total = sum_money([Money.of("1.10", "EUR"), Money.of("2.205", "EUR")], "EUR")
    assert total.to_json() == {"amount": "3.305", "currency": "EUR"}
    assert str(total) == "3.31 EUR"
    assert sum_money([], "USD") == Money.zero("USD")
