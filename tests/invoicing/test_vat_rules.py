"""The VAT treatment of a charging session, rule by rule (docs/invoicing.md, "VAT rules")."""

from __future__ import annotations

from decimal import Decimal

import pytest

from evbill.invoicing.model import Party, VatCategory
from evbill.invoicing.vat import VatTable
from evbill.invoicing.vat_rules import NoVatRegistration, VatRules, vat_id_country

D = Decimal
HOME = VatRules(VatTable.default(), "DE", "DE123456789")
B2B_AT = Party(name="Donau GmbH", street="Ring 1", postcode="1010", city="Wien", country="AT",
               vat_id="ATU12345678")  # fmt: skip
B2B_DE = Party(name="Spree GmbH", street="Ring 1", postcode="10115", city="Berlin",
               country="DE", vat_id="DE999999999")  # fmt: skip


def test_at_home_standard_vat_under_the_home_id() -> None:
    t = HOME.taxation("DE", B2B_DE)
    assert (t.category, t.seller_vat_id, t.line(None)) == (VatCategory.STANDARD, "DE123456789",
                                                          ("S", D("19")))
    assert t.line(D("7")) == ("S", D("7"))  # the tariff's own rate at home
    assert t.line(D("0")) == ("Z", D("0"))


def test_abroad_the_stations_country_sets_the_rate_under_the_id_valid_there() -> None:
    t = VatRules(VatTable.default(), "DE", "DE123456789", {"AT": "ATU99999999"}).taxation("AT")
    assert (t.seller_vat_id, t.line(None), t.line(D("19"))) == (
        "ATU99999999", ("S", D("20")), ("S", D("20")))


def test_oss_charges_the_foreign_rate_under_the_home_id() -> None:
    rules = VatRules(VatTable.default(), "DE", "DE123456789", oss=True)
    t = rules.taxation("FR")
    assert (t.seller_vat_id, t.line(None)) == ("DE123456789", ("S", D("20")))


def test_abroad_without_registration_or_oss_is_refused() -> None:
    with pytest.raises(NoVatRegistration, match="FR"):
        HOME.taxation("FR")


def test_b2b_abroad_with_a_local_vat_id_is_reverse_charged() -> None:
    t = HOME.taxation("AT", B2B_AT)
    assert (t.category, t.seller_vat_id, t.line(None)) == (
        VatCategory.REVERSE_CHARGE, "DE123456789", ("AE", D("0")))
    off = VatRules(VatTable.default(), "DE", "DE123456789", {"AT": "ATU9"},
                   reverse_charge=False)  # fmt: skip
    assert off.taxation("AT", B2B_AT).category is VatCategory.STANDARD
    # a German VAT id does not make a supply in Austria reverse charged
    with pytest.raises(NoVatRegistration):
        HOME.taxation("AT", B2B_DE)


def test_exempt_issuer_and_issuer_outside_the_vat_area() -> None:
    exempt = VatRules(VatTable.default(), "DE", None, exemption=("VATEX-EU-132", "Exempt"))
    t = exempt.taxation("DE")
    assert (t.category, t.line(D("19")), t.exemptions["E"]) == (
        VatCategory.EXEMPT, ("E", D("0")), ("VATEX-EU-132", "Exempt"))
    us = VatRules(VatTable.default(), "US", None).taxation("US")
    assert (us.category, us.seller_vat_id) == (VatCategory.NOT_SUBJECT, None)


def test_vat_id_country_prefix() -> None:
    assert [vat_id_country(v) for v in ("ATU1", "EL123", "de1")] == ["AT", "GR", "DE"]
