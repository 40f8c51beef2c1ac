"""The API's ad hoc page on the gateway's payment hooks: the hold it places before the remote
start is raised while charging (or the session stopped at the limit) and captured once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from payments_world import CAR, NO_INCREMENTS, SMALL_HOLD, VISA, PaidWorld
from sqlalchemy import select

from evbill.api.app import create_app
from evbill.api.commands import adhoc_service
from evbill.api.context import ApiContext
from evbill.api.settings import ApiSettings
from evbill.config import Settings
from evbill.invoicing.service import InvoicingService
from evbill.invoicing.tables import DocumentRow
from evbill.money import Money
from evbill.payments.settlement_pass import settle_due
from evbill.payments.tables import AdhocPaymentRow, SessionPaymentRow
from evbill.sim.charging import SessionOutcome, SessionPlan, SessionRunner

TWO_HOURS_GROSS = Money.of("7.85", "EUR")


def _api(paid: PaidWorld, tmp_path: Path) -> ApiContext:
    """The API as `evbill serve` runs it: same database and the gateway's sandbox."""
    app = create_app(Settings(data_dir=tmp_path), api_settings=ApiSettings(settle_interval_s=0),
                     db=paid.world.db, provider=paid.sandbox, clock=paid.clock,
                     payment_settings=SMALL_HOLD)
    ctx: ApiContext = app.state.evbill
    return ctx


async def _pay_and_charge(paid: PaidWorld, ctx: ApiContext, card: str,
                          plan: SessionPlan) -> tuple[str, SessionOutcome]:
    station = await paid.world.station("E2E-1", "2.0.1")
    runner = SessionRunner(station, lambda: CAR, defaults=plan)
    token = paid.sandbox.tokenize(card, 12, 2030, "123").token
    row, _key = adhoc_service(ctx).pay("E2E-1", 1, token)
    assert row.status == "starting"  # the API's hold stands and the remote start is queued
    async with asyncio.timeout(60):  # the gateway delivers the remote start, the car charges
        while not runner.outcomes:
            await asyncio.sleep(0.05)
    [outcome] = runner.outcomes
    await outcome.delivered(timeout=30)
    await station.close()
    return row.id, outcome


@pytest.mark.parametrize("payment_settings", [SMALL_HOLD])
async def test_api_ad_hoc_hold_is_raised_while_charging_and_captured_once(
        paid: PaidWorld, tmp_path: Path) -> None:
    ctx = _api(paid, tmp_path)
    plan = SessionPlan("-", CAR, max_duration_s=7200)
    payment_id, outcome = await _pay_and_charge(paid, ctx, VISA, plan)

    [hold] = paid.sandbox.authorizations()
    assert hold.amount == Money.of("10.00", "EUR")  # 5 → 10 once the running cost reached 4
    assert paid.session_payment("E2E-1", outcome.transaction_id).reference == payment_id
    assert paid.captures() == [TWO_HOURS_GROSS]  # captured by the hooks once rated
    assert payment_id in settle_due(ctx)  # the API's pass only records it: no second capture
    assert paid.captures() == [TWO_HOURS_GROSS]
    with paid.world.db.read_sessions() as r:
        assert r.get(AdhocPaymentRow, payment_id).status == "settled"  # type: ignore[union-attr]
    # The payer's receipt was issued when the capture was booked, for exactly what was captured.
    with paid.world.db.read_sessions() as s:
        [number] = s.scalars(select(DocumentRow.number)).all()
    receipt = InvoicingService(paid.world.db).issue_receipt(payment_id, now=paid.clock())
    assert receipt.number == number  # the one issued at capture; asking again issues nothing
    assert receipt.totals.gross == TWO_HOURS_GROSS.amount
    paid.assert_books()


@pytest.mark.parametrize("payment_settings", [SMALL_HOLD])
async def test_api_ad_hoc_with_declined_increments_stops_at_the_limit(
        paid: PaidWorld, tmp_path: Path) -> None:
    ctx = _api(paid, tmp_path)
    plan = SessionPlan("-", CAR, max_duration_s=4 * 3600, step_pause_s=0.02)
    payment_id, outcome = await _pay_and_charge(paid, ctx, NO_INCREMENTS, plan)

    assert outcome.stop_reason is not None and outcome.stop_reason.value == "Remote"
    assert outcome.energy_wh < 44_000  # stopped well before the four hours were up
    [hold] = paid.sandbox.authorizations()
    assert hold.amount == Money.of("5.00", "EUR")
    [captured] = paid.captures()
    assert captured <= Money.of("5.00", "EUR")
    with paid.world.db.read_sessions() as r:
        row = r.scalar(select(SessionPaymentRow).where(SessionPaymentRow.reference == payment_id))
    assert row is not None and row.stop_requested
    paid.assert_books()
