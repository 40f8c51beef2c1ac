"""VAT arithmetic: per-country rates from configuration, rounding, sums per category and rate.

The rule (EN 16931 BR-CO-17, BR-S-09): each line's net amount is rounded to the currency's
minor unit (ROUND_HALF_UP); the VAT of a category and rate is that rate × the *sum* of its
rounded line nets, rounded once. The VAT shown per line is that subtotal allocated over its
lines (each line's exact share rounded, the last cents given to the lines rounding lost most),
so lines, sessions and subtotals all add up and no per-line rounding is summed into the total.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from evbill.invoicing.model import DocumentError, DocumentLine, Totals, VatCategory, VatSubtotal
from evbill.money import minor_unit

__all__ = [
    "DEFAULT_EXEMPTIONS",
    "DEFAULT_STANDARD_RATES",
    "LineAmounts",
    "UnknownVatCountry",
    "VatTable",
    "allocate_vat",
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


#: BT-121 VATEX code and BT-120 reason per category that needs one (BR-AE-10, BR-E-10,
#: BR-G-10, BR-IC-10, BR-O-10); S and Z must carry none (BR-S-10, BR-Z-10).
DEFAULT_EXEMPTIONS: Final[Mapping[str, tuple[str | None, str]]] = {
    "AE": ("VATEX-EU-AE", "Reverse charge: VAT to be accounted for by the recipient "
                          "(VAT Directive art. 195, 199a)"),
    "E": (None, "Exempt from VAT"),
    "K": ("VATEX-EU-IC", "Intra-Community supply exempt (VAT Directive art. 138)"),
    "G": ("VATEX-EU-G", "Export outside the EU exempt (VAT Directive art. 146)"),
    "O": ("VATEX-EU-O", "Not subject to VAT"),
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


def totals_of(
    lines: Iterable[DocumentLine], currency: str,
    exemptions: Mapping[str, tuple[str | None, str]] = DEFAULT_EXEMPTIONS, *,
    split: bool = False,
) -> Totals:  # fmt: skip
    """Totals of rounded lines: per category and rate the sum of the line nets and the VAT
    on that sum (BR-CO-17), then over all of them. `split`: the lines' VAT is given (a partial
    refund split like the ledger's reversal) and summed as it is."""
    per_key: dict[tuple[str, Decimal], Decimal] = {}
    given: dict[tuple[str, Decimal], Decimal] = {}
    zero = round_minor(Decimal(0), currency)
    for line in lines:
        key = (line.vat_category, line.vat_rate)
        per_key[key] = per_key.get(key, zero) + line.net
        given[key] = given.get(key, zero) + line.vat
    by_rate = []
    for (category, rate), taxable in sorted(per_key.items(), key=lambda i: (-i[0][1], i[0][0])):
        vat = given[(category, rate)] if split else round_minor(taxable * rate / _HUNDRED,
                                                                currency)
        code, reason = (None, None) if category in ("S", "Z") else exemptions.get(
            category, (None, VatCategory(category).label))
        by_rate.append(VatSubtotal(
            rate=rate, taxable=taxable, vat=vat,
            category=category, exemption_code=code, exemption_reason=reason))
    net = sum((s.taxable for s in by_rate), zero)
    vat = sum((s.vat for s in by_rate), zero)
    return Totals(net=net, vat=vat, gross=net + vat, by_rate=tuple(by_rate))


def allocate_vat(lines: Sequence[DocumentLine], totals: Totals,
                 currency: str) -> list[DocumentLine]:  # fmt: skip
    """The lines with their VAT set to their share of their subtotal's VAT: each line's exact
    VAT rounded half up, then the cents that rounding left over (or added) moved to the lines
    whose rounding was furthest off, so each subtotal's lines sum to its VAT exactly."""
    unit = Decimal(1).scaleb(-minor_unit(currency))
    out = list(lines)
    for subtotal in totals.by_rate:
        members = [i for i, line in enumerate(lines)
                   if (line.vat_category, line.vat_rate) == (subtotal.category, subtotal.rate)]
        exact = {i: lines[i].net * subtotal.rate / _HUNDRED for i in members}
        vat = {i: round_minor(exact[i], currency) for i in members}
        left = subtotal.vat - sum(vat.values(), Decimal(0))
        step = unit if left > 0 else -unit
        order = sorted(members, key=lambda i: (exact[i] - vat[i]) * step, reverse=True)
        for i in order[: int(abs(left) / unit)]:
            vat[i] += step
        for i in members:
            out[i] = replace(lines[i], vat=vat[i], gross=lines[i].net + vat[i])
    return out

