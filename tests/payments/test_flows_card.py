"""Ad hoc card flows on SQLite and PostgreSQL: hold, 3-D Secure, increments, capture, release,
expiry, the stale-hold sweep, voids and timeouts retried without a second charge."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from evbill.ledger import accounts
from evbill.ledger.postings import VatLine
from evbill.money import Money
from evbill.payments.model import (
    HoldOutcome,
    PaymentStateError,
    RunningCostDecision,
    SessionCharge,
)
from evbill.payments.provider import AuthorizationState, DeclineCode, WebhookEventType
from evbill.payments.providers import sandbox_vault as cards
from evbill.payments.providers.sandbox_faults import FaultKind

from .conftest import Flows

CLEARING = accounts.provider_clearing("sandbox")
HELD = accounts.authorizations("sandbox")
REVENUE = accounts.revenue("op-1")
VAT = accounts.vat_payable("DE", "19")


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


def charge(reference: str, gross_net: str, vat: str) -> SessionCharge:
    return SessionCharge(reference, "op-1", eur(gross_net), (VatLine("DE", "19", eur(vat)),))


def card(flows: Flows, pan: str = cards.CARD_SUCCESS) -> str:
    return flows.service.add_card("drv-1", pan, 12, 2030, "123").token


def hold(flows: Flows, reference: str = "sess-1", token: str | None = None,
         station: str | None = "CP-1") -> str:
    result = flows.service.authorize_hold(reference=reference, account="drv-1",
                                          payment_method_token=token or card(flows),
                                          station_id=station)
    assert result.outcome is HoldOutcome.AUTHORIZED
    return result.authorization_id


def test_hold_then_capture_the_priced_amount_releases_the_rest(flows: Flows) -> None:
    svc = flows.service
    result = svc.authorize_hold(reference="sess-1", account="drv-1",
                                payment_method_token=card(flows), station_id="CP-1")
    assert result.amount == eur("50.00") and result.outcome is HoldOutcome.AUTHORIZED
    assert flows.balance(HELD) == Decimal("50.00")
    assert svc.capture(charge("sess-1", "19.72", "3.75")) == "captured"
    [auth] = flows.sandbox.authorizations()
    assert auth.state is AuthorizationState.CAPTURED and auth.captured == eur("23.47")
    assert flows.balance(CLEARING) == Decimal("23.47")
    assert flows.balance(REVENUE) == Decimal("-19.72")
    assert flows.balance(VAT) == Decimal("-3.75")
    assert flows.balance(HELD) == 0  # the hold memo is released in full
    assert flows.ledger.trial_balance().balanced
    # a repeated capture (the session service retrying) moves nothing
    assert svc.capture(charge("sess-1", "19.72", "3.75")) == "captured"
    assert [op for op, _ in flows.sandbox.executed] == ["authorize", "capture"]
    assert flows.balance(CLEARING) == Decimal("23.47")


def test_repeated_hold_request_returns_the_first_answer(flows: Flows) -> None:
    token = card(flows)
    first = flows.service.authorize_hold(reference="s", account="drv-1",
                                         payment_method_token=token)
    again = flows.service.authorize_hold(reference="s", account="drv-1",
                                         payment_method_token=token)
    assert again == first and len(flows.sandbox.authorizations()) == 1
    assert flows.balance(HELD) == Decimal("50.00")


def test_hold_amount_is_configured_per_station(flows: Flows) -> None:
    hold(flows, station="CP-FAST")
    assert flows.sandbox.authorizations()[0].amount == eur("80.00")


@pytest.mark.parametrize(("pan", "code"), [
    (cards.CARD_DECLINED, DeclineCode.CARD_DECLINED),
    (cards.CARD_INSUFFICIENT_FUNDS, DeclineCode.INSUFFICIENT_FUNDS),
    (cards.CARD_EXPIRED, DeclineCode.EXPIRED_CARD)])
def test_declined_card_places_no_hold(flows: Flows, pan: str, code: DeclineCode) -> None:
    result = flows.service.authorize_hold(reference="s", account="drv-1",
                                          payment_method_token=card(flows, pan))
    assert result.outcome is HoldOutcome.DECLINED and result.decline_code is code
    assert flows.ledger.entry_count() == 0
    with pytest.raises(PaymentStateError, match="declined"):
        flows.service.capture(charge("s", "10.00", "1.90"))


def test_wallet_token_hold(flows: Flows) -> None:
    hold(flows, token=cards.WALLET_GOOGLE_PAY)
    flows.service.capture(charge("sess-1", "10.00", "1.90"))
    assert flows.balance(CLEARING) == Decimal("11.90")


def test_3ds_challenge_completed_through_the_webhook(flows: Flows) -> None:
    result = flows.service.authorize_hold(
        reference="s3", account="drv-1", payment_method_token=card(flows, cards.CARD_3DS_REQUIRED))
    assert result.outcome is HoldOutcome.REQUIRES_ACTION and result.challenge_url
    assert flows.ledger.entry_count() == 0  # nothing is held until the driver passes 3DS
    assert result.challenge_ref is not None
    flows.sandbox.complete_challenge(result.challenge_ref, success=True)
    [webhook] = flows.sandbox.outbox
    outcome = flows.service.handle_webhook(webhook.headers, webhook.body)
    assert outcome.type is WebhookEventType.CHALLENGE_SUCCEEDED and outcome.outcome == "authorized"
    assert flows.balance(HELD) == Decimal("50.00")
    assert flows.service.capture(charge("s3", "10.00", "1.90")) == "captured"


def test_3ds_challenge_failed_found_by_polling(flows: Flows) -> None:
    result = flows.service.authorize_hold(
        reference="s3", account="drv-1", payment_method_token=card(flows, cards.CARD_3DS_REQUIRED))
    assert result.challenge_ref is not None
    flows.sandbox.complete_challenge(result.challenge_ref, success=False)
    after = flows.service.refresh_hold("s3")
    assert after.outcome is HoldOutcome.DECLINED
    assert after.decline_code is DeclineCode.AUTHENTICATION_FAILED
    assert flows.ledger.entry_count() == 0


def test_timeouts_are_retried_and_the_driver_is_charged_once(flows: Flows) -> None:
    token = card(flows)
    flows.sandbox.faults.fail_next(2, FaultKind.TIMEOUT, operations={"authorize"})
    flows.sandbox.faults.fail_next(1, FaultKind.TIMEOUT, operations={"capture"})
    flows.sandbox.faults.fail_next(1, FaultKind.UNAVAILABLE, operations={"capture"})
    hold(flows, token=token)
    assert flows.service.capture(charge("sess-1", "19.72", "3.75")) == "captured"
    assert len(flows.sandbox.authorizations()) == 1
    assert [op for op, _ in flows.sandbox.executed] == ["authorize", "capture"]
    [settlement] = flows.sandbox.settle()
    assert settlement.amount == eur("23.47")
    assert flows.balance(CLEARING) == Decimal("23.47")


def test_cost_nearing_the_hold_raises_it_until_the_cap(flows: Flows) -> None:
    svc = flows.service
    hold(flows)
    assert svc.on_running_cost("sess-1", eur("39.99")) is RunningCostDecision.CONTINUE
    assert svc.on_running_cost("sess-1", eur("40.00")) is RunningCostDecision.INCREMENTED
    assert flows.sandbox.authorizations()[0].amount == eur("75.00")
    assert flows.balance(HELD) == Decimal("75.00")
    assert svc.on_running_cost("sess-1", eur("100.00")) is RunningCostDecision.INCREMENTED
    assert flows.sandbox.authorizations()[0].amount == eur("150.00")  # the cap
    assert svc.on_running_cost("sess-1", eur("119.99")) is RunningCostDecision.CONTINUE
    assert svc.on_running_cost("sess-1", eur("120.00")) is RunningCostDecision.STOP
    assert svc.capture(charge("sess-1", "100.00", "19.00")) == "captured"
    assert flows.balance(CLEARING) == Decimal("119.00") and flows.balance(HELD) == 0
    assert flows.ledger.trial_balance().balanced


def test_declined_increment_stops_at_the_limit(flows: Flows) -> None:
    hold(flows, token=card(flows, cards.CARD_INCREMENT_DECLINED))
    assert flows.service.on_running_cost("sess-1", eur("41")) is RunningCostDecision.STOP
    assert flows.service.on_running_cost("sess-1", eur("42")) is RunningCostDecision.STOP
    assert [op for op, _ in flows.sandbox.executed] == ["authorize", "increment"]
    actions = [a for _, a, _, _ in flows.service.audit_trail("sess-1")]
    assert actions == ["increment_declined"]


def test_cost_beyond_the_hold_captures_the_hold_and_records_the_shortfall(flows: Flows) -> None:
    hold(flows)
    assert flows.service.capture(charge("sess-1", "50.00", "9.50")) == "captured"
    assert flows.sandbox.authorizations()[0].captured == eur("50.00")
    assert flows.balance(CLEARING) == Decimal("50.00")
    assert flows.balance(VAT) == Decimal("-7.98")  # 9.50 × 50/59.50, half-up
    trail = flows.service.audit_trail("sess-1")
    assert trail[-1][1] == "shortfall" and trail[-1][3]["priced"] == "59.50 EUR"


def test_zero_cost_session_releases_the_hold(flows: Flows) -> None:
    hold(flows)
    assert flows.service.capture(SessionCharge("sess-1", "op-1", eur("0"))) == "released"
    assert flows.sandbox.authorizations()[0].state is AuthorizationState.VOIDED
    assert flows.balance(HELD) == 0 and flows.ledger.trial_balance().balanced


def test_operator_void_leaves_a_trail(flows: Flows) -> None:
    hold(flows)
    flows.service.void("sess-1", actor="operator:anna", reason="driver could not plug in")
    assert flows.sandbox.authorizations()[0].state is AuthorizationState.VOIDED
    assert flows.balance(HELD) == 0
    [(_, action, actor, detail)] = flows.service.audit_trail("sess-1")
    assert (action, actor, detail["reason"]) == ("void", "operator:anna",
                                                 "driver could not plug in")
    with pytest.raises(PaymentStateError, match="nothing to void"):
        flows.service.void("sess-1", actor="operator:anna", reason="again")


def test_expired_hold_is_released_by_the_sweep(flows: Flows) -> None:
    hold(flows)
    flows.clock.advance(timedelta(days=7))
    assert flows.service.sweep_holds() == ["sess-1"]
    assert flows.balance(HELD) == 0
    assert flows.sandbox.executed[-1][0] == "authorize"  # expired holds need no void call
    with pytest.raises(PaymentStateError, match="expired"):
        flows.service.capture(charge("sess-1", "10.00", "1.90"))
    assert flows.service.sweep_holds() == []


def test_expiry_webhook_releases_the_hold(flows: Flows) -> None:
    hold(flows)
    flows.clock.advance(timedelta(days=7))
    flows.sandbox.expire_due()
    [webhook] = flows.sandbox.outbox
    outcome = flows.service.handle_webhook(webhook.headers, webhook.body)
    assert outcome.type is WebhookEventType.AUTHORIZATION_EXPIRED and outcome.outcome == "expired"
    assert flows.balance(HELD) == 0


def test_stale_uncaptured_hold_is_voided_by_the_sweep(flows: Flows) -> None:
    hold(flows, reference="old")
    flows.clock.advance(timedelta(hours=47))
    hold(flows, reference="young")
    flows.clock.advance(timedelta(hours=1))
    assert flows.service.sweep_holds() == ["old"]
    states = [a.state for a in flows.sandbox.authorizations()]
    assert states == [AuthorizationState.VOIDED, AuthorizationState.AUTHORIZED]
    assert flows.balance(HELD) == Decimal("50.00")
