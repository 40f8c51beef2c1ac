"""Invoicing settings from `EVBILL_INVOICE_*` variables: the issuing operator, VAT, numbering."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from evbill.invoicing.model import Party
from evbill.invoicing.numbering import DEFAULT_TEMPLATE
from evbill.invoicing.vat import VatTable

__all__ = ["InvoicingSettings", "get_invoicing_settings"]


class InvoicingSettings(BaseSettings):
    """Who issues the documents and how; every field is `EVBILL_INVOICE_<NAME>`."""

    model_config = SettingsConfigDict(
        env_prefix="EVBILL_INVOICE_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    operator_id: str = "evbill"
    issuer_name: str = "evbill Charging Services"
    issuer_street: str = "Musterstraße 1"
    issuer_postcode: str = "10115"
    issuer_city: str = "Berlin"
    issuer_country: str = "DE"
    issuer_vat_id: str | None = "DE000000000"
    issuer_registration: str | None = None
    issuer_email: str | None = None
    issuer_phone: str | None = None
    issuer_iban: str | None = None
    time_zone: str = Field(default="Europe/Berlin", description="decides issue dates, periods")
    vat_rates: str = Field(default="", description='overrides, e.g. "DE=19,AT=20"')
    payment_days: int = Field(default=14, ge=0, le=120)
    number_template: str = DEFAULT_TEMPLATE
    number_code: str = ""

    def issuer(self) -> Party:
        return Party(
            name=self.issuer_name, street=self.issuer_street, postcode=self.issuer_postcode,
            city=self.issuer_city, country=self.issuer_country, vat_id=self.issuer_vat_id,
            registration=self.issuer_registration, email=self.issuer_email,
            phone=self.issuer_phone, iban=self.issuer_iban,
        )  # fmt: skip

    def vat_table(self) -> VatTable:
        return VatTable.parse(self.vat_rates)


@lru_cache(maxsize=1)
def get_invoicing_settings() -> InvoicingSettings:
    return InvoicingSettings()
