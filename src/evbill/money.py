"""Money: exact Decimal amounts with an ISO 4217 currency, and the named rounding rules.

Nothing here accepts a float. Arithmetic is exact; rounding happens only where a caller asks
for it by name (`round_to_minor`, `quantize`), with ROUND_HALF_UP unless the caller says
otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Final

__all__ = [
    "CDR_PLACES",
    "CurrencyMismatch",
    "InvalidAmount",
    "Money",
    "MoneyError",
    "UnknownCurrency",
    "minor_unit",
    "to_decimal",
]

# ISO 4217 minor units for the currencies an EV charging network realistically bills in.
# Anything not listed is rejected rather than guessed.
_MINOR_UNITS: Final[dict[str, int]] = {
    "AED": 2, "AUD": 2, "BGN": 2, "BHD": 3, "BRL": 2, "CAD": 2, "CHF": 2, "CLP": 0,
    "CNY": 2, "CZK": 2, "DKK": 2, "EUR": 2, "GBP": 2, "HKD": 2, "HUF": 2, "IDR": 2,
    "ILS": 2, "INR": 2, "ISK": 0, "JOD": 3, "JPY": 0, "KRW": 0, "KWD": 3, "MXN": 2,
    "MYR": 2, "NOK": 2, "NZD": 2, "OMR": 3, "PHP": 2, "PLN": 2, "RON": 2, "RSD": 2,
    "SAR": 2, "SEK": 2, "SGD": 2, "THB": 2, "TND": 3, "TRY": 2, "TWD": 2, "UAH": 2,
    "USD": 2, "VND": 0, "ZAR": 2,
}  # fmt: skip

#: Decimal places kept in OCPI CDR JSON (peers exchange 4).
CDR_PLACES: Final = 4


class MoneyError(ValueError):
    """Base class for money errors."""


class UnknownCurrency(MoneyError):
    """A currency code that is not a supported ISO 4217 code."""


class CurrencyMismatch(MoneyError):
    """Two amounts in different currencies were combined."""


class InvalidAmount(MoneyError):
    """An amount that is not an exact decimal number (a float, NaN, infinity, garbage)."""


def minor_unit(currency: str) -> int:
    """Number of decimal places of the currency's minor unit (EUR → 2, JPY → 0)."""
    try:
        return _MINOR_UNITS[currency]
    except KeyError:
        raise UnknownCurrency(f"unknown ISO 4217 currency code {currency!r}") from None


def to_decimal(value: object, *, field: str = "amount") -> Decimal:
    """Convert str/int/Decimal to a finite Decimal; floats are refused, never approximated."""
    if isinstance(value, (bool, float)):
        raise InvalidAmount(f"{field}: {type(value).__name__} is not an exact amount ({value!r})")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise InvalidAmount(f"{field}: {value!r} is not a decimal number") from None
    else:
        raise InvalidAmount(f"{field}: {type(value).__name__} is not an amount")
    if not result.is_finite():
        raise InvalidAmount(f"{field}: {value!r} is not a finite number")
    return result


@lru_cache(maxsize=16)
def _quantum(places: int) -> Decimal:
    return Decimal(1).scaleb(-places)


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount in one currency. Immutable, hashable, comparable within a currency."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", to_decimal(self.amount))
        minor_unit(self.currency)  # validates the code

    @classmethod
    def of(cls, amount: object, currency: str) -> Money:
        return cls(to_decimal(amount), currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    # --- arithmetic -------------------------------------------------------------------
    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, factor: Decimal | int) -> Money:
        return Money(self.amount * to_decimal(factor, field="factor"), self.currency)

    __rmul__ = __mul__

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.amount >= other.amount

    def is_zero(self) -> bool:
        return self.amount == 0

    # --- named rounding points ----------------------------------------------------------
    def quantize(self, places: int, rounding: str = ROUND_HALF_UP) -> Money:
        """Round to `places` decimals (ROUND_HALF_UP unless a rule says otherwise)."""
        return Money(self.amount.quantize(_quantum(places), rounding=rounding), self.currency)

    def round_to_minor(self, rounding: str = ROUND_HALF_UP) -> Money:
        """Round to the currency's minor unit: the rounding point for document lines."""
        return self.quantize(minor_unit(self.currency), rounding)

    # --- presentation ------------------------------------------------------------------
    def __str__(self) -> str:
        return f"{self.round_to_minor().amount:f} {self.currency}"

    def to_json(self) -> dict[str, str]:
        """Money crosses every boundary as a string with its currency, never as a number."""
        return {"amount": f"{self.amount:f}", "currency": self.currency}


def sum_money(amounts: list[Money] | tuple[Money, ...], currency: str) -> Money:
    """Sum amounts of one currency (an empty sum is zero in `currency`)."""
    total = Money.zero(currency)
    for item in amounts:
        total = total + item
    return total


__all__ += ["sum_money"]
