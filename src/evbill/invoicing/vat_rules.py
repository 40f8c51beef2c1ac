"""Which VAT applies to a charging session: the taxing country, the category, the rate and the
seller VAT id a document states. Each rule and its source is in `docs/invoicing.md`.

- The place of supply is where the station is (electricity and charging consumed there: VAT
  Directive art. 39, 2nd para.; CJEU C-235/18 *Vega International* treats the charging
  service the same), so the station's country sets rate and category.
- One document is taxed in one country under the seller VAT id valid there: the home VAT id
  at home, the issuer's registration in that country abroad, or the home id under OSS where the
  operator configured it; otherwise issuing is refused (never another country's VAT under the
  home id).
- B2B abroad: reverse charge (AE, art. 195/199a) when the buyer holds a VAT id of the taxing
  country and the rule is on.
- An exempt issuer (configured reason and VATEX code) issues E; an issuer outside the
  configured VAT area (no rate for its country, no VAT id) issues O (not subject).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Final

from evbill.invoicing.model import DocumentError, Party, VatCategory
from evbill.invoicing.vat import DEFAULT_EXEMPTIONS, VatTable

__all__ = ["NoVatRegistration", "Taxation", "VatRules", "vat_id_country"]

#: VAT id prefixes that differ from the ISO country code.
_PREFIX_COUNTRY: Final = {"EL": "GR", "XI": "GB"}
_ZERO: Final = Decimal(0)


class NoVatRegistration(DocumentError):
    """The session is taxed in a country where the issuer has no VAT id and OSS is off."""


def vat_id_country(vat_id: str) -> str:
    """The ISO country of a VAT id by its prefix (`EL…` is Greece)."""
    prefix = vat_id.strip()[:2].upper()
    return _PREFIX_COUNTRY.get(prefix, prefix)


@dataclass(frozen=True, slots=True)
class Taxation:
    """The VAT treatment of one document: its taxing country, the seller's VAT id there, the
    category of its lines (S lines at 0 % are Z) and the exemption reason where one is due."""

    country: str
    category: VatCategory
    seller_vat_id: str | None
    exemption: tuple[str | None, str] | None = None
    rates: VatTable = field(default_factory=VatTable.default, compare=False)
    tariff_rates: bool = True  # False abroad: the tariff's own rate is the home country's

    def line(self, given: Decimal | None) -> tuple[str, Decimal]:
        """(category, rate) of a line whose tariff states `given` (None: the country's). A
        tariff's own rate counts at home; abroad the taxing country's rate applies (the
        tariff's 0 % still means a zero-rated supply)."""
        if self.category is not VatCategory.STANDARD:
            return self.category.value, _ZERO
        if not self.tariff_rates and given is not None and given != 0:
            given = None
        rate = self.rates.rate_for(self.country, given)
        return ("S" if rate > 0 else "Z"), rate

    @property
    def exemptions(self) -> Mapping[str, tuple[str | None, str]]:
        if self.exemption is None:
            return DEFAULT_EXEMPTIONS
        return {**DEFAULT_EXEMPTIONS, self.category.value: self.exemption}

    def seller(self, issuer: Party) -> Party:
        """The issuer as this document names it: with the VAT id valid in the taxing country
        (none for O, BR-O-02)."""
        return replace(issuer, vat_id=self.seller_vat_id)


@dataclass(frozen=True, slots=True)
class VatRules:
    """The issuer's VAT position: home country and id, registrations abroad, OSS, reverse
    charge, an exemption (E) if the issuer is exempt."""

    rates: VatTable
    home_country: str
    home_vat_id: str | None
    registrations: Mapping[str, str] = field(default_factory=dict)
    oss: bool = False
    reverse_charge: bool = True
    exemption: tuple[str | None, str] | None = None  # (VATEX code, reason): issuer exempt

    @classmethod
    def for_issuer(cls, issuer: Party, rates: VatTable | None = None) -> VatRules:
        return cls(rates or VatTable.default(), issuer.country, issuer.vat_id)

    def taxation(self, country: str, customer: Party | None = None) -> Taxation:
        """The treatment of a supply at a station in `country` to `customer` (None: anonymous)."""
        rates = self.rates
        if self.exemption is not None:
            return Taxation(country, VatCategory.EXEMPT, self.home_vat_id, self.exemption, rates)
        if country not in rates.rates:  # outside the configured VAT area
            return Taxation(country, VatCategory.NOT_SUBJECT, None, None, rates)
        if country != self.home_country and self._reverse_charged(country, customer):
            return Taxation(country, VatCategory.REVERSE_CHARGE, self.home_vat_id, None, rates)
        vat_id = self._vat_id_in(country)
        return Taxation(country, VatCategory.STANDARD, vat_id, None, rates,
                        tariff_rates=country == self.home_country)

    def _reverse_charged(self, country: str, customer: Party | None) -> bool:
        return bool(self.reverse_charge and self.home_vat_id and customer is not None
                    and customer.vat_id and vat_id_country(customer.vat_id) == country)

    def _vat_id_in(self, country: str) -> str:
        if country == self.home_country and self.home_vat_id:
            return self.home_vat_id
        if country in self.registrations:
            return self.registrations[country]
        if self.oss and self.home_vat_id:
            return self.home_vat_id
        if country == self.home_country:
            raise NoVatRegistration(
                f"issuer.vat_id: VAT is charged in {country} but the issuer has no VAT id "
                "(set EVBILL_INVOICE_ISSUER_VAT_ID, or an exemption)")
        raise NoVatRegistration(
            f"vat: a session at a station in {country} is taxed in {country}, where the issuer "
            f"has no VAT id; set EVBILL_INVOICE_VAT_REGISTRATIONS=\"{country}=<VAT id>\" or "
            "EVBILL_INVOICE_OSS=true (one document per taxing country, never its VAT under "
            "another country's id)")
