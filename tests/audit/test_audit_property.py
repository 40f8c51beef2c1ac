"""Property: whatever the tariff (energy, time, parking, flat fees, min/max price, reservation,
restrictions, VAT rates), a session rated, paid (wallet or postpaid), documented (receipt or
monthly invoice) and booked satisfies the audit's invariant: rated total = charged =
document lines = ledger postings, per currency and VAT rate."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evbill.audit.reader import run_audit
from evbill.invoicing.auto import DocumentIssuer
from evbill.invoicing.compose import BillingPeriod
from evbill.invoicing.service import InvoicingService
from evbill.invoicing.settings import InvoicingSettings
from evbill.ledger.service import LedgerService
from evbill.ledger.store import sql_unit_of_work
from evbill.payments.charges import ChargeSource
from evbill.payments.providers.sandbox import SandboxProvider
from evbill.payments.service import PaymentService
from evbill.rating import MeterSample, rate_timeline
from evbill.store.database import Database
from evbill.store.tables import CdrRow, SessionRow, StationRow, TariffRow
from evbill.tariffs import dumps, parse_tariff

NOW = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
OCTOBER = BillingPeriod(2026, 10)
SETTINGS = InvoicingSettings(issuer_name="Voltway Charging GmbH", issuer_vat_id="DE123456789",
                             issuer_iban="DE02120300000000202051")  # fmt: skip
_numbers = itertools.count(1)

prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("4.00"), places=2)
vats = st.sampled_from([Decimal(19), Decimal(7), Decimal(0), None])


@st.composite
def components(draw: st.DrawFn, kinds: tuple[str, ...]) -> list[dict[str, Any]]:
    chosen = draw(st.lists(st.sampled_from(kinds), min_size=1, unique=True))
    out = []
    for kind in chosen:
        component: dict[str, Any] = {"type": kind, "price": draw(prices),
                                     "step_size": draw(st.sampled_from([1, 60, 300]))}
        vat = draw(vats)
        if vat is not None:
            component["vat"] = vat
        out.append(component)
    return out


@st.composite
def restrictions(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["time", "kwh", "weekday", "power"]))
    if kind == "time":
        start, length = draw(st.integers(0, 23)), draw(st.integers(1, 12))
        return {"start_time": f"{start:02d}:00", "end_time": f"{(start + length) % 24:02d}:00"}
    if kind == "kwh":
        return {"min_kwh": Decimal(draw(st.integers(0, 10))),
                "max_kwh": Decimal(draw(st.integers(11, 40)))}
    if kind == "weekday":
        return {"day_of_week": draw(st.lists(st.sampled_from(
            ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]),
            min_size=1, max_size=4, unique=True))}
    return {"max_power": Decimal(draw(st.integers(4, 20)))}


@st.composite
def tariffs(draw: st.DrawFn) -> tuple[dict[str, Any], bool]:
    n = next(_numbers)
    elements: list[dict[str, Any]] = []
    reservation = draw(st.booleans())
    if reservation:
        elements.append({"price_components": draw(components(("FLAT", "TIME"))),
                         "restrictions": {"reservation": "RESERVATION"}})
    for _ in range(draw(st.integers(0, 2))):
        elements.append({"price_components": draw(components(
            ("FLAT", "ENERGY", "TIME", "PARKING_TIME"))), "restrictions": draw(restrictions())})
    base = draw(components(("FLAT", "ENERGY", "TIME", "PARKING_TIME")))
    base.append({"type": "ENERGY", "price": draw(prices), "vat": Decimal(19), "step_size": 1})
    elements.append({"price_components": _unique_kinds(base)})
    tariff: dict[str, Any] = {"country_code": "DE", "party_id": "EVB", "id": f"PROP-{n}",
                              "currency": "EUR", "last_updated": "2026-01-01T00:00:00Z",
                              "elements": elements}
    low = draw(st.none() | st.decimals(min_value=Decimal("0.50"), max_value=Decimal("30"),
                                       places=2))
    high = draw(st.none() | st.decimals(min_value=Decimal("1.00"), max_value=Decimal("40"),
                                        places=2))
    if low is not None and high is not None and low > high:
        low, high = high, low
    for name, bound in (("min_price", low), ("max_price", high)):
        if bound is not None:
            price: dict[str, Decimal] = {"excl_vat": bound}
            if draw(st.booleans()):
                price["incl_vat"] = (bound * Decimal("1.19")).quantize(Decimal("0.01"))
            tariff[name] = price
    return tariff, reservation


def _unique_kinds(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for component in components:
        seen.setdefault(component["type"], component)
    return list(seen.values())


@st.composite
def timelines(draw: st.DrawFn, reservation: bool) -> list[MeterSample]:
    at = datetime(2026, 10, 1, 0, 0, tzinfo=UTC) + timedelta(
        minutes=draw(st.integers(0, 28 * 24 * 60)))
    samples: list[MeterSample] = []
    energy = Decimal(0)
    if reservation:
        samples.append(MeterSample(at, energy, Decimal(0), None, False))
        at += timedelta(minutes=draw(st.integers(5, 40)))
    for _ in range(draw(st.integers(1, 4))):
        power = Decimal(draw(st.integers(3_700, 22_000)))
        samples.append(MeterSample(at, energy, power, None, True))
        minutes = draw(st.integers(5, 60))
        at += timedelta(minutes=minutes)
        energy += (power * minutes / 60).quantize(Decimal("0.1"))
    parked = draw(st.integers(0, 90))
    if parked:
        samples.append(MeterSample(at, energy, Decimal(0), None, False))
        at += timedelta(minutes=parked)
    samples.append(MeterSample(at, energy, Decimal(0), None, False))
    return samples


def _store(db: Database, tariff: dict[str, Any], samples: list[MeterSample],
           reservation: bool) -> str:  # fmt: skip
    n = next(_numbers)
    cdr_id = f"CDR-P{n:06d}"
    priced = rate_timeline(parse_tariff(tariff), "Europe/Berlin", samples, cdr_id=cdr_id,
                           reservation=reservation)  # fmt: skip
    with db.sessions() as s:
        if s.get(StationRow, "PROP-1") is None:
            s.add(StationRow(id="PROP-1", time_zone="Europe/Berlin", operator="voltway",
                             address="Teststraße 1, 10115 Berlin", auto_registered=False,
                             connected=False, created_at=NOW))  # fmt: skip
        s.add(TariffRow(pk=n, tariff_id=tariff["id"], version="1", currency="EUR",
                        ocpi_json=dumps(tariff, indent=None), created_at=NOW))
        s.flush()
        s.add(SessionRow(id=n, station_id="PROP-1", evse_id=1, connector_id=1,
                         transaction_id=f"tx-{n}", state="rated", started_at=samples[0].at,
                         stopped_at=samples[-1].at, energy_wh=samples[-1].energy_wh,
                         energy_source="meter", time_zone="Europe/Berlin", start_received=True,
                         stop_received=True, flags=[], created_at=NOW, updated_at=NOW))
        s.flush()
        total = priced.total_cost
        s.add(CdrRow(id=cdr_id, session_id=n, currency="EUR",
                     total_cost_excl_vat=total.excl_vat.amount,
                     total_cost_incl_vat=total.incl_vat.amount,
                     total_energy_wh=samples[-1].energy_wh, energy_source="meter",
                     ocpi_json=dumps(priced.to_ocpi(), indent=None), tariff_pk=n, revision=1,
                     created_at=NOW, updated_at=NOW))
        s.commit()
    return cdr_id


@settings(max_examples=20, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data(), wallet=st.booleans())
def test_every_tariff_feature_keeps_the_invariant(db: Database, data: st.DataObject,
                                                  wallet: bool) -> None:
    tariff, reservation = data.draw(tariffs())
    samples = data.draw(timelines(reservation))
    cdr_id = _store(db, tariff, samples, reservation)
    invoicing = InvoicingService(db, SETTINGS)
    payments = PaymentService(db, SandboxProvider(clock=lambda: NOW, namespace="prop",
                                                  webhook_secret="whsec_prop"),
                              LedgerService(sql_unit_of_work(db)), clock=lambda: NOW,
                              listeners=[DocumentIssuer(invoicing, lambda: NOW)])
    charge = ChargeSource(db, SETTINGS).charge(cdr_id, cdr_id)
    account = f"acct-{cdr_id}"
    if not charge.gross.is_zero():  # a zero charge is settled with nothing (issue 17)
        if wallet:
            payments.pay_from_wallet(account, charge)  # the receipt is issued at once
        else:
            payments.post_to_account(account, charge)
            assert invoicing.issue_invoice(account, "EUR", OCTOBER, now=NOW) is not None
    problems = [str(m) for m in run_audit(db).mismatches if m.session == cdr_id]
    assert problems == [], (tariff, samples, problems)
