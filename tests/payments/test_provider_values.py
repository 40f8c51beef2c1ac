"""Exact Money ↔ minor-unit conversion and the provider value types."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evbill.money import Money
from evbill.payments.provider import (
    AmountNotRepresentable,
    DeclineCode,
    PaymentDeclined,
    PaymentProvider,
    TokenVault,
    from_minor_units,
    to_minor_units,
)
from evbill.payments.providers.sandbox import SandboxProvider


@pytest.mark.parametrize(
    ("amount", "currency", "units"),
    [("12.34", "EUR", 1234), ("0.01", "EUR", 1), ("50", "EUR", 5000), ("1500", "JPY", 1500),
     ("1.234", "BHD", 1234), ("12.30", "EUR", 1230), ("-4.20", "EUR", -420)],
)
def test_to_minor_units_is_exact(amount: str, currency: str, units: int) -> None:
    assert to_minor_units(Money.of(amount, currency)) == units
    assert from_minor_units(units, currency) == Money.of(amount, currency)


@pytest.mark.parametrize(("amount", "currency"), [("12.345", "EUR"), ("1.5", "JPY")])
def test_amounts_with_too_many_decimals_are_refused_not_rounded(
    amount: str, currency: str
) -> None:
    with pytest.raises(AmountNotRepresentable, match=r"amount: .* more than \d decimals"):
        to_minor_units(Money.of(amount, currency))


def test_trailing_zeros_beyond_the_minor_unit_are_fine() -> None:
    assert to_minor_units(Money(Decimal("12.3400"), "EUR")) == 1234


@settings(max_examples=200)
@given(units=st.integers(min_value=-(10**12), max_value=10**12),
       currency=st.sampled_from(["EUR", "JPY", "KWD", "USD"]))
def test_minor_units_round_trip(units: int, currency: str) -> None:
    assert to_minor_units(from_minor_units(units, currency)) == units


def test_payment_declined_names_the_code() -> None:
    exc = PaymentDeclined(DeclineCode.INSUFFICIENT_FUNDS, "no money")
    assert exc.code is DeclineCode.INSUFFICIENT_FUNDS
    assert "insufficient_funds" in str(exc)


def test_sandbox_satisfies_the_protocols(sandbox: SandboxProvider) -> None:
    assert isinstance(sandbox, PaymentProvider)
    assert isinstance(sandbox, TokenVault)
