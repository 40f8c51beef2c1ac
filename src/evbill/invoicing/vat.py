"""VAT arithmetic: per-country rates from configuration, per-line rounding, sums per rate.

The rule: each line's net amount is rounded to the currency's minor unit (ROUND_HALF_UP),
its VAT is the rounded net × rate, rounded the same way, and gross = net + VAT. Subtotals per
rate are sums of those rounded line figures, so every printed figure adds up exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from evbill.invoicing.model import DocumentError, DocumentLine, Totals, VatSubtotal
from evbill.money import minor_unit

__all__ = [
    "DEFAULT_STANDARD_RATES",
    "LineAmounts",
    "UnknownVatCountry",
    "VatTable",
    "line_amounts",
    "round_minor",
    "split_gross",
    "totals_of",
]

_HUNDRED: Final = Decimal(100)

#: EU standard VAT rates (percent) as of 2026, plus CH, NO and GB; override per deployment.
DEFAULT_STANDARD_RATES: Final[Mapping[str, Decimal]] = {
    k: Decimal(v) for k, v in {
        "AT": "20", "BE": "21", "BG": "20", "CY": "19", "CZ": "21", "DE": "19", "DK": "25",
        "EE": "24", "ES": "21", "FI": "25.5", "FR": "20", "GR": "24", "HR": "25", "HU": "27",
        "IE": "23", "IT": "22", "LT": "21", "LU": "17", "LV": "21", "MT": "18", "NL": "21",
        "PL": "23", "PT": "23", "RO": "21", "SE": "25", "SI": "22", "SK": "23",
        "CH": "8.1", "NO": "25", "GB": "20",
    }.items()
}  # fmt: skip


class UnknownVatCountry(DocumentError):
    """No VAT rate is configured for the country of supply."""


@dataclass(frozen=True, slots=True)
class VatTable:
    """Standard VAT rate per country of supply (where the charging station stands)."""

    rates: Mapping[str, Decimal]

    @classmethod
    def default(cls) -> VatTable:
        return cls(dict(DEFAULT_STANDARD_RATES))

    @classmethod
    def parse(cls, text: str, base: Mapping[str, Decimal] | None = None) -> VatTable:
        """`"DE=19,FR=20"` (e.g. from EVBILL_VAT_RATES) over `base` (default: the EU table)."""
        rates = dict(DEFAULT_STANDARD_RATES if base is None else base)
        for item in filter(None, (part.strip() for part in text.split(","))):
            country, sep, rate = item.partition("=")
            if not sep or len(country.strip()) != 2:
                raise DocumentError(f"vat_rates: {item!r} is not COUNTRY=RATE")
            rates[country.strip().upper()] = _rate(rate.strip(), f"vat_rates[{country}]")
        return cls(rates)

    def rate_for(self, country: str, given: Decimal | None = None) -> Decimal:
        """The tariff's own rate when it states one, else the country's standard rate."""
        if given is not None:
            return _rate(given, "vat_rate")
        try:
            return self.rates[country]
        except KeyError:
            raise UnknownVatCountry(
                f"vat_rate: no VAT rate configured for country {country!r}"
            ) from None


def _rate(value: object, field: str) -> Decimal:
    try:
        rate = value if isinstance(value, Decimal) else Decimal(str(value))
    except ArithmeticError:
        raise DocumentError(f"{field}: {value!r} is not a percentage") from None
    if not rate.is_finite() or rate < 0 or rate >= _HUNDRED:
        raise DocumentError(f"{field}: {value!r} is not a percentage between 0 and 100")
    return rate


def round_minor(amount: Decimal, currency: str) -> Decimal:
    """Round to the currency's minor unit, ROUND_HALF_UP (the document rounding point)."""
    return amount.quantize(Decimal(1).scaleb(-minor_unit(currency)), rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class LineAmounts:
    net: Decimal
    vat: Decimal
    gross: Decimal


def line_amounts(net_exact: Decimal, rate: Decimal, currency: str) -> LineAmounts:
    """Round the line's net, compute its VAT on the rounded net, add them."""
    net = round_minor(net_exact, currency)
    vat = round_minor(net * rate / _HUNDRED, currency)
    return LineAmounts(net, vat, net + vat)


def split_gross(gross: Decimal, rate: Decimal, currency: str) -> LineAmounts:
    """Split a gross amount (a refund given back) into net + VAT so that they add up to it."""
    gross = round_minor(gross, currency)
    net = round_minor(gross * _HUNDRED / (_HUNDRED + rate), currency)
    return LineAmounts(net, gross - net, gross)


def totals_of(lines: Iterable[DocumentLine], currency: str) -> Totals:
    """Totals of rounded lines: taxable and VAT summed per rate, then over all rates."""
    per_rate: dict[Decimal, tuple[Decimal, Decimal]] = {}
    zero = round_minor(Decimal(0), currency)
    for line in lines:
        taxable, vat = per_rate.get(line.vat_rate, (zero, zero))
        per_rate[line.vat_rate] = (taxable + line.net, vat + line.vat)
    by_rate = tuple(
        VatSubtotal(rate=rate, taxable=taxable, vat=vat)
        for rate, (taxable, vat) in sorted(per_rate.items(), reverse=True)
    )
    net = sum((s.taxable for s in by_rate), zero)
    vat = sum((s.vat for s in by_rate), zero)
    return Totals(net=net, vat=vat, gross=net + vat, by_rate=by_rate)
