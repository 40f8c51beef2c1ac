"""Invoicing settings from `EVBILL_INVOICE_*` variables: the issuing operator, VAT, numbering.

The issuer's legal data is configuration. The defaults are placeholders for the demo:
`check_issuer` refuses them (at `evbill serve` / `evbill bill` start-up) unless
`EVBILL_INVOICE_DEMO=true`, so no real document ever names "Musterstraße 1" or DE000000000.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from evbill.invoicing.model import DocumentError, Party
from evbill.invoicing.numbering import DEFAULT_TEMPLATE
from evbill.invoicing.vat import VatTable
from evbill.invoicing.vat_rules import VatRules
from evbill.payments.refusals import Invalid
from evbill.payments.sepa import check_creditor_id

__all__ = ["InvoicingSettings", "IssuerNotConfigured", "check_issuer", "get_invoicing_settings"]

#: The placeholder issuer the defaults name (the demo's); issuing with it is refused elsewhere.
PLACEHOLDER_STREET = "Musterstraße 1"
PLACEHOLDER_VAT_ID = "DE000000000"


class IssuerNotConfigured(ValueError):
    """The issuer's legal data is still the placeholder (or incomplete) outside the demo."""


class InvoicingSettings(BaseSettings):
    """Who issues the documents and how; every field is `EVBILL_INVOICE_<NAME>`."""

    model_config = SettingsConfigDict(
        env_prefix="EVBILL_INVOICE_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    operator_id: str = "evbill"
    issuer_name: str = "evbill Charging Services"
    issuer_street: str = PLACEHOLDER_STREET
    issuer_postcode: str = "10115"
    issuer_city: str = "Berlin"
    issuer_country: str = "DE"
    issuer_vat_id: str | None = PLACEHOLDER_VAT_ID
    issuer_registration: str | None = None
    issuer_email: str | None = None
    issuer_phone: str | None = None
    issuer_iban: str | None = None
    time_zone: str = Field(default="Europe/Berlin", description="decides issue dates, periods")
    vat_rates: str = Field(default="", description='overrides, e.g. "DE=19,AT=20"')
    payment_days: int = Field(default=14, ge=0, le=120)
    number_template: str = DEFAULT_TEMPLATE
    number_code: str = ""
    demo: bool = Field(default=False, description="allow the placeholder issuer (demo only)")
    vat_registrations: str = Field(
        default="", description='issuer VAT ids abroad, e.g. "AT=ATU12345678,FR=FR12345678901"')
    oss: bool = Field(default=False, description="charge other EU countries' VAT under the "
                                                 "home VAT id (One-Stop Shop)")
    reverse_charge: bool = Field(default=True, description="B2B abroad: reverse charge (AE) "
                                                           "when the buyer has a local VAT id")
    vat_exemption_reason: str = Field(default="", description="issuer exempt (category E): "
                                                              "the reason printed")
    vat_exemption_code: str = Field(default="", description="its VATEX code, e.g. VATEX-EU-132")
    sepa_creditor_id: str | None = None  # direct debit (59): BT-90

    def issuer(self) -> Party:
        return Party(
            name=self.issuer_name, street=self.issuer_street, postcode=self.issuer_postcode,
            city=self.issuer_city, country=self.issuer_country, vat_id=self.issuer_vat_id,
            registration=self.issuer_registration, email=self.issuer_email,
            phone=self.issuer_phone, iban=self.issuer_iban,
        )  # fmt: skip

    def vat_table(self) -> VatTable:
        return VatTable.parse(self.vat_rates)

    def vat_rules(self) -> VatRules:
        registrations = {}
        for item in filter(None, (p.strip() for p in self.vat_registrations.split(","))):
            country, sep, vat_id = item.partition("=")
            if not sep or len(country.strip()) != 2 or not vat_id.strip():
                raise DocumentError(f"vat_registrations: {item!r} is not COUNTRY=VATID")
            registrations[country.strip().upper()] = vat_id.strip()
        exemption = None
        if self.vat_exemption_reason or self.vat_exemption_code:
            exemption = (self.vat_exemption_code or None,
                         self.vat_exemption_reason or "Exempt from VAT")
        return VatRules(self.vat_table(), self.issuer_country, self.issuer_vat_id or None,
                        registrations, self.oss, self.reverse_charge, exemption)

    @property
    def placeholder(self) -> bool:
        return self.issuer_street == PLACEHOLDER_STREET or self.issuer_vat_id == PLACEHOLDER_VAT_ID


def check_issuer(settings: InvoicingSettings) -> None:
    """Refuse to issue with the placeholder issuer outside the demo (called at start-up)."""
    if settings.placeholder and not settings.demo:
        raise IssuerNotConfigured(
            "invoicing: the issuer is the placeholder (Musterstraße 1, DE000000000); set "
            "EVBILL_INVOICE_ISSUER_NAME, _ISSUER_STREET, _ISSUER_POSTCODE, _ISSUER_CITY, "
            "_ISSUER_COUNTRY, _ISSUER_VAT_ID (and _ISSUER_IBAN for transfers, "
            "_SEPA_CREDITOR_ID for direct debits), or "
            "EVBILL_INVOICE_DEMO=true for a demo")
    settings.issuer()  # the name and country must be valid
    settings.vat_rules()
    if settings.sepa_creditor_id:
        try:
            check_creditor_id(settings.sepa_creditor_id)
        except Invalid as exc:
            reason = exc.detail.removeprefix("sepa_creditor_id: ")
            raise IssuerNotConfigured(f"invoicing: EVBILL_INVOICE_SEPA_CREDITOR_ID: {reason}"
                                      ) from None  # fmt: skip

@lru_cache(maxsize=1)
def get_invoicing_settings() -> InvoicingSettings:
    return InvoicingSettings()
