"""Payments wired into the session lifecycle, end to end: simulated stations over real sockets →
gateway → session service → payment hooks → sandbox provider and ledger (SQLite, PostgreSQL).
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from e2e_world import T0, TARIFF
from ocpp.v16 import call as v16_call
from payments_world import (
    CAR,
    DECLINED,
    NO_INCREMENTS,
    SMALL_HOLD,
    THREE_DS,
    VISA,
    PaidWorld,
    charge,
)
from sqlalchemy import select

from evbill.invoicing.model import DocumentType
from evbill.invoicing.service import InvoicingService
from evbill.invoicing.tables import DocumentRow
from evbill.money import Money
from evbill.payments.providers.sandbox_faults import FaultKind
from evbill.payments.tables import PaymentAuthorizationRow
from evbill.sessions.tariff_book import TariffBook
from evbill.sim.charging import SessionOutcome, SessionPlan, SessionRunner
from evbill.sim.station import SimStation

pytestmark = pytest.mark.e2e

#: 22 kWh (11 kW for two hours) at 0.30 EUR/kWh: 6.60 net + 1.25 VAT (19 %, to the cent).
TWO_HOURS_GROSS = Money.of("7.85", "EUR")


@pytest.mark.parametrize("protocol", ["1.6", "2.0.1", "2.1"])
async def test_ad_hoc_card_holds_then_captures_exactly_and_releases_the_rest(
        paid: PaidWorld, protocol: str) -> None:
    paid.card_token("CARD-1", VISA)
    station = await paid.world.station("E2E-1", protocol)
    outcome = await charge(station, "CARD-1")
    await station.close()

    assert outcome.authorization == "Accepted"
    [hold] = paid.sandbox.authorizations()
    assert hold.amount == Money.of("50.00", "EUR")  # placed before energy flowed
    assert hold.state.value == "captured"
    detail = paid.world.detail("E2E-1", outcome.transaction_id)
    receipt = paid.billing.charges.charge(detail.cdr.cdr_id, "x")  # type: ignore[union-attr]
    assert receipt.gross == TWO_HOURS_GROSS
    assert paid.captures() == [TWO_HOURS_GROSS]  # exactly what the receipt shows
    [row] = paid.charges()
    assert (row.method, row.gross, row.released) == ("card", Decimal("7.85"), Decimal("42.15"))
    assert paid.session_payment("E2E-1", outcome.transaction_id).status == "charged"
    assert paid.balance("asset:authorizations:sandbox") == 0  # the rest released
    paid.assert_books()


async def test_a_declined_card_refuses_the_start(paid: PaidWorld) -> None:
    paid.card_token("CARD-NO", DECLINED)
    station = await paid.world.station("E2E-1", "2.0.1")
    outcome = await charge(station, "CARD-NO")
    await station.close()

    assert outcome.authorization == "Blocked"
    assert outcome.transaction is None  # no energy flowed
    assert paid.world.sessions("E2E-1") == []
    assert [a.state.value for a in paid.sandbox.authorizations()] == ["declined"]
    assert paid.charges() == []
    paid.assert_books()


async def test_a_declined_card_answers_the_1_6_start_too(paid: PaidWorld) -> None:
    """Without an Authorize first, the StartTransaction answer itself is Blocked."""
    paid.card_token("CARD-NO", DECLINED)
    station = await paid.world.station("E2E-1", "1.6")
    outcome = await charge(station, "CARD-NO", authorize=False)
    await station.close()

    assert outcome.authorization == "Blocked"
    [session] = paid.world.sessions("E2E-1")
    assert "authorization_rejected" in session.flags
    assert paid.charges() == []
    paid.assert_books()


async def test_a_3ds_card_cannot_start_until_the_challenge_is_done(paid: PaidWorld) -> None:
    paid.card_token("CARD-3DS", THREE_DS)
    station = await paid.world.station("E2E-1", "2.0.1")
    refused = await charge(station, "CARD-3DS")
    assert refused.authorization == "Invalid" and refused.transaction is None

    [pending] = paid.sandbox.authorizations()
    assert pending.state.value == "requires_action"
    assert pending.challenge_ref is not None
    paid.sandbox.complete_challenge(pending.challenge_ref, True)  # the driver, in the app
    outcome = await charge(station, "CARD-3DS")
    await station.close()

    assert outcome.authorization == "Accepted"
    assert len(paid.sandbox.authorizations()) == 1  # the same hold, now authorized
    assert paid.captures() == [TWO_HOURS_GROSS]
    paid.assert_books()


@pytest.mark.parametrize("payment_settings", [SMALL_HOLD])
async def test_cost_nearing_the_hold_raises_it(paid: PaidWorld) -> None:
    paid.card_token("CARD-1", VISA)
    station = await paid.world.station("E2E-1", "2.0.1")
    outcome = await charge(station, "CARD-1")
    await station.close()

    [hold] = paid.sandbox.authorizations()
    assert hold.amount == Money.of("10.00", "EUR")  # 5 → 10 once the cost reached 4
    assert outcome.stop_reason is not None and outcome.stop_reason.value != "Remote"
    assert paid.captures() == [TWO_HOURS_GROSS]
    paid.assert_books()


@pytest.mark.parametrize("payment_settings", [SMALL_HOLD])
@pytest.mark.parametrize("protocol", ["1.6", "2.0.1"])
async def test_declined_increments_stop_the_session_at_the_limit(
        paid: PaidWorld, protocol: str) -> None:
    paid.card_token("CARD-LIM", NO_INCREMENTS)
    station = await paid.world.station("E2E-1", protocol)
    runner = SessionRunner(station, lambda: CAR)
    outcome = await runner.run(SessionPlan("CARD-LIM", CAR, max_duration_s=4 * 3600,
                                           step_pause_s=0.02))
    await outcome.delivered(timeout=30)
    await station.close()

    assert outcome.stop_reason is not None and outcome.stop_reason.value == "Remote"
    assert outcome.energy_wh < 44_000  # stopped well before the four hours were up
    [hold] = paid.sandbox.authorizations()
    assert hold.amount == Money.of("5.00", "EUR")  # never raised
    [captured] = paid.captures()
    assert captured <= Money.of("5.00", "EUR")  # the hold is billed, never more
    assert paid.session_payment("E2E-1", outcome.transaction_id).stop_requested
    paid.assert_books()


async def test_wallet_session_debits_the_wallet_and_low_balance_refuses(
        paid: PaidWorld) -> None:
    paid.payments.top_up("driver-w", Money.of("30.00", "EUR"),
                         paid.payments.add_card("driver-w", VISA, 12, 2030, "123").token,
                         key="topup-1")
    paid.bound_token("WALLET-1", "wallet", "driver-w")
    station = await paid.world.station("E2E-1", "2.1")
    outcome = await charge(station, "WALLET-1")
    assert outcome.authorization == "Accepted"
    assert paid.payments.wallet_balance("driver-w") == Money.of("22.15", "EUR")
    paid.assert_books()

    paid.bound_token("WALLET-2", "wallet", "driver-poor")  # nothing topped up
    refused = await charge(station, "WALLET-2")
    await station.close()
    assert refused.authorization == "Blocked" and refused.transaction is None
    paid.assert_books()


async def test_postpaid_posts_to_the_receivable_without_a_hold(paid: PaidWorld) -> None:
    paid.bound_token("FLEET-1", "postpaid", "fleet-acme")
    station = await paid.world.station("E2E-2", "1.6")
    await charge(station, "FLEET-1")
    await station.close()

    assert paid.sandbox.authorizations() == []
    assert paid.balance("asset:receivable:fleet-acme") == Decimal("7.85")
    [row] = paid.charges()
    assert row.method == "postpaid"
    paid.assert_books()


async def test_repeated_stop_and_rerating_charge_once(paid: PaidWorld) -> None:
    paid.card_token("CARD-1", VISA)
    station = await paid.world.station("E2E-1", "2.0.1")
    outcome = await charge(station, "CARD-1", seconds=3600)
    ends = [p for p in station.sent_payloads
            if type(p).__name__ == "TransactionEvent" and p.event_type == "Ended"]
    await station.call(ends[-1])  # the stop again
    assert outcome.transaction_id is not None
    for _ in range(2):  # re-rating the same CDR, twice
        await asyncio.to_thread(paid.billing.after_event, "E2E-1", outcome.transaction_id)
    await station.close()

    assert len(paid.captures()) == 1
    assert len(paid.charges()) == 1
    assert paid.session_payment("E2E-1", outcome.transaction_id).adjustments == 0
    paid.assert_books()


async def test_a_provider_timeout_then_retry_charges_once(paid: PaidWorld) -> None:
    paid.card_token("CARD-1", VISA)
    paid.sandbox.faults.fail_next(1, FaultKind.TIMEOUT, operations={"capture"})
    paid.sandbox.faults.fail_next(1, FaultKind.TIMEOUT, operations={"authorize"})
    station = await paid.world.station("E2E-1", "2.0.1")
    outcome = await charge(station, "CARD-1")
    await station.close()

    assert outcome.authorization == "Accepted"
    assert len(paid.sandbox.authorizations()) == 1
    assert paid.captures() == [TWO_HOURS_GROSS]
    executed = [op for op, *_ in paid.sandbox.executed]
    assert executed.count("capture") == 1 and executed.count("authorize") == 1
    paid.assert_books()


async def test_the_sweep_releases_an_abandoned_hold(paid: PaidWorld) -> None:
    paid.card_token("CARD-1", VISA)
    station = await paid.world.station("E2E-1", "2.0.1")
    reply = await station.call(station.dialect.authorize("CARD-1"))
    assert station.dialect.authorization_status(reply) == "Accepted"
    await station.close()  # the driver walks away: no session ever starts
    [hold] = paid.sandbox.authorizations()
    assert hold.state.value == "authorized"

    assert paid.billing.sweep().unclaimed == ()  # too early
    paid.clock.now += timedelta(minutes=16)
    report = await asyncio.to_thread(paid.billing.sweep)
    assert len(report.unclaimed) == 1
    assert paid.sandbox.authorizations()[0].state.value == "voided"
    with paid.world.db.read_sessions() as r:
        assert r.scalar(select(PaymentAuthorizationRow.status)) == "released"
    assert paid.balance("asset:authorizations:sandbox") == 0
    paid.assert_books()



def _station_tariff(paid: PaidWorld, tariff_id: str, price: float, hours_before: int) -> None:
    tariff = {**TARIFF, "id": tariff_id, "elements": [{"price_components": [
        {"type": "ENERGY", "price": price, "vat": 19.0, "step_size": 1}]}]}
    TariffBook(paid.world.db).add(json.dumps(tariff), now=T0, station_id="E2E-1",
                                  valid_from=T0 - timedelta(hours=hours_before))


async def _late_sample(station: SimStation, outcome: SessionOutcome, after_s: int) -> None:
    """A 1.6 MeterValues inside the finished session's span: the session is rated again."""
    assert outcome.started_at is not None and outcome.transaction_id is not None
    at = outcome.started_at + timedelta(seconds=after_s)
    wh = outcome.meter_start_wh + after_s * 11_000 // 3600
    await station.call(v16_call.MeterValues(
        connector_id=1, transaction_id=int(outcome.transaction_id),
        meter_value=[{"timestamp": at.isoformat().replace("+00:00", "Z"), "sampled_value": [
            {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh",
             "context": "Sample.Periodic"}]}]))


async def test_a_rerating_with_another_amount_is_adjusted_never_captured_again(
        paid: PaidWorld) -> None:
    paid.card_token("CARD-1", VISA)
    station = await paid.world.station("E2E-1", "1.6")
    outcome = await charge(station, "CARD-1", seconds=3600)  # 11 kWh
    assert paid.captures() == [Money.of("3.93", "EUR")]  # 3.30 + 0.63 VAT

    _station_tariff(paid, "E2E-AC-UP", 0.40, hours_before=24)  # a corrected tariff
    await _late_sample(station, outcome, 90)
    assert outcome.transaction_id is not None
    sp = paid.session_payment("E2E-1", outcome.transaction_id)
    assert (sp.cdr_revision, sp.charged_gross, sp.adjustments) == (2, Decimal("5.24"), 1)
    assert paid.captures() == [Money.of("3.93", "EUR")]  # no second capture
    assert paid.balance("asset:receivable:driver-1") == Decimal("1.31")  # 5.24 - 3.93

    _station_tariff(paid, "E2E-AC-DOWN", 0.20, hours_before=12)  # and down again
    await _late_sample(station, outcome, 150)
    await station.close()
    sp = paid.session_payment("E2E-1", outcome.transaction_id)
    assert (sp.cdr_revision, sp.charged_gross, sp.adjustments) == (3, Decimal("2.62"), 2)
    [card] = [c for c in paid.charges() if c.method == "card"]
    assert card.refunded == Decimal("2.62")  # 5.24 - 2.62 back to the card
    assert paid.captures() == [Money.of("3.93", "EUR")]
    paid.assert_books()


async def test_a_failed_hook_is_settled_by_the_sweep(
        paid: PaidWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    paid.bound_token("FLEET-1", "postpaid", "fleet-acme")
    real = paid.billing.charges.charge
    failures = iter([RuntimeError("invoicing briefly unavailable")])

    def flaky(cdr_id: str, reference: str, account: str | None = None) -> object:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return real(cdr_id, reference, account)

    monkeypatch.setattr(paid.billing.charges, "charge", flaky)
    station = await paid.world.station("E2E-2", "2.0.1")
    outcome = await charge(station, "FLEET-1")
    await station.close()
    assert [s.state for s in paid.world.sessions("E2E-2")] == ["rated"]  # answered, stored
    assert paid.charges() == []  # the hook failed after the commit

    failed = paid.billing.failures.listing()
    assert [(f.kind, f.attempts, f.status) for f in failed] == [("session", 1, "retrying")]
    assert "invoicing briefly unavailable" in failed[0].last_error
    assert (await asyncio.to_thread(paid.billing.sweep)).settled == ()  # backing off (10 s)
    paid.clock.now += timedelta(seconds=10)
    report = await asyncio.to_thread(paid.billing.sweep)
    assert report.settled == (f"E2E-2/{outcome.transaction_id}",)
    assert paid.balance("asset:receivable:fleet-acme") == Decimal("7.85")
    assert paid.billing.failures.listing() == []  # resolved
    assert (await asyncio.to_thread(paid.billing.sweep)).settled == ()  # once
    paid.assert_books()


async def test_a_paid_ad_hoc_session_gets_its_receipt_at_once(paid: PaidWorld) -> None:
    """The receipt is issued by the payments hook the moment the capture is booked, and it
    shows exactly what was captured."""
    paid.card_token("CARD-R", VISA)
    station = await paid.world.station("E2E-1", "2.0.1")
    outcome = await charge(station, "CARD-R")
    await station.close()

    detail = paid.world.detail("E2E-1", outcome.transaction_id)
    assert detail.cdr is not None
    invoicing = InvoicingService(paid.world.db)
    with paid.world.db.read_sessions() as s:
        numbers = list(s.scalars(select(DocumentRow.number)
                                 .where(DocumentRow.doc_type == DocumentType.RECEIPT.value)))
    [receipt] = [invoicing.find(n) for n in numbers]
    assert receipt.totals.gross == TWO_HOURS_GROSS.amount
    assert paid.captures() == [TWO_HOURS_GROSS]
    # An ad hoc session is charged under its payment reference; the receipt names that charge.
    payment = paid.session_payment("E2E-1", outcome.transaction_id)
    assert [b.reference for b in receipt.sessions] == [payment.charge_reference]
    paid.assert_books()
