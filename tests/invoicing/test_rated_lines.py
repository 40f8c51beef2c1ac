"""One truth per session: a document's lines are the priced CDR's own lines (every component,
reservation fees, min/max price adjustments, each at its VAT rate), so the document's net is
exactly what rating priced. Each example tariff of the demo, and `dc_fast.json` capped by a
`max_price` of 20.00, rated and stored as the session pipeline stores it, then documented."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from evbill.cli.demo import CASES, EXAMPLES, DemoCase
from evbill.cli.rate import price_session
from evbill.invoicing.compose import ChargedSession, Issue, compose_receipt
from evbill.invoicing.model import ComponentKind, Document
from evbill.invoicing.place_of_supply import zone_country
from evbill.invoicing.sources import charges_from_ocpi, charges_of
from evbill.invoicing.vat import VatTable, round_minor
from evbill.invoicing.vat_rules import VatRules
from evbill.rating import PricedCdr
from evbill.tariffs import dumps, loads, parse_tariff

from .factories import ISSUER

D = Decimal


def _rate(case: DemoCase, max_price: str | None = None) -> PricedCdr:
    tariff = json.loads((EXAMPLES / "tariffs" / case.tariff).read_text("utf-8"))
    if max_price is not None:
        tariff["max_price"] = {"excl_vat": float(max_price), "incl_vat": float(max_price) * 1.19}
    session = loads((EXAMPLES / "sessions" / case.session).read_text("utf-8"))
    return price_session(parse_tariff(tariff), case.tz, session)


def _stored(priced: PricedCdr, *, breakdown: bool = True) -> dict[str, object]:
    """The CDR JSON as `sessions.finish` stores it, read back as `invoicing.sources` reads it."""
    data: dict[str, object] = json.loads(dumps(priced.to_ocpi(breakdown=breakdown)),
                                         parse_float=Decimal)
    return data


def _receipt(priced: PricedCdr, cdr: dict[str, object], tz: str, *, legacy: bool = False
             ) -> Document:  # fmt: skip
    country = zone_country(tz) or "DE"
    session = ChargedSession(
        reference="S1", station_id="ST1", evse_id="1", address="Somewhere", country=country,
        time_zone=tz, start=priced.start, end=priced.end, charging_hours=priced.total_time,
        parking_hours=priced.total_parking_time, energy_kwh=priced.total_energy,
        signed_meter=False, currency=priced.currency,
        charges=charges_from_ocpi(cdr) if legacy else charges_of(cdr))  # fmt: skip
    issue = Issue(issuer=ISSUER, customer=ISSUER, operator_id="op", account_id="a",
                  issued_at=datetime(2026, 11, 1, tzinfo=UTC), time_zone="Europe/Berlin",
                  vat=VatTable.default(),
                  rules=VatRules(VatTable.default(), "DE", ISSUER.vat_id, oss=True))
    return compose_receipt(issue, session, payment_note="")


@pytest.mark.parametrize("case", CASES, ids=[c.tariff + ":" + c.session for c in CASES])
def test_document_net_is_the_rated_total(case: DemoCase) -> None:
    priced = _rate(case)
    doc = _receipt(priced, _stored(priced), case.tz)
    assert doc.totals.net == round_minor(priced.total_cost.excl_vat.amount, priced.currency)
    assert [line.kind.value for line in doc.lines] == [
        line.kind.value for line in priced.lines if line.amount_excl_vat != 0]


def test_reservation_fee_reaches_the_document() -> None:
    """reservable.json rates 8.5960 excl. VAT; without the reservation it was 7.5960."""
    priced = _rate(next(c for c in CASES if c.tariff == "reservable.json"))
    assert round(priced.total_cost.excl_vat.amount, 4) == D("8.5960")
    doc = _receipt(priced, _stored(priced), "Europe/Amsterdam")
    assert doc.totals.net == D("8.60")
    assert ComponentKind.RESERVATION_FLAT in {line.kind for line in doc.lines}


def test_max_price_adjustment_reaches_the_document() -> None:
    """dc_fast.json capped at 20.00 excl. VAT was documented at 39.648."""
    priced = _rate(next(c for c in CASES if c.tariff == "dc_fast.json"), max_price="20.00")
    assert priced.total_cost.excl_vat.amount == D("20.00")
    doc = _receipt(priced, _stored(priced), "Europe/Berlin")
    assert doc.totals.net == D("20.00")
    [adjustment] = [line for line in doc.lines if line.kind is ComponentKind.MAX_PRICE]
    assert adjustment.net < 0


@pytest.mark.parametrize("tariff", ["reservable.json", "dc_fast.json"])
def test_a_cdr_without_breakdown_is_rebuilt_to_its_total(tariff: str) -> None:
    """A partner's CDR (OCPI totals only): reservation cost and the difference to total_cost
    (the min/max adjustment) become lines, so the document still totals the CDR."""
    case = next(c for c in CASES if c.tariff == tariff)
    priced = _rate(case, max_price="20.00" if tariff == "dc_fast.json" else None)
    cdr = _stored(priced, breakdown=False)
    doc = _receipt(priced, cdr, case.tz, legacy=True)
    total = cdr["total_cost"]
    assert isinstance(total, dict)
    assert doc.totals.net == round_minor(total["excl_vat"], priced.currency)
