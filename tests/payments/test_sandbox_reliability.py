"""The sandbox's idempotency, fault injection, latency and signed webhooks."""

from __future__ import annotations

import contextlib
import json
from datetime import timedelta

import pytest

from evbill.money import Money
from evbill.payments.provider import (
    AuthorizationStatus,
    IdempotencyConflict,
    InvalidPaymentRequest,
    PaymentDeclined,
    ProviderTimeout,
    ProviderUnavailable,
    WebhookEventType,
    WebhookMalformed,
    WebhookReplayed,
    WebhookSignatureInvalid,
    WebhookStale,
)
from evbill.payments.providers import sandbox_vault as cards
from evbill.payments.providers.sandbox import SandboxProvider
from evbill.payments.providers.sandbox_faults import FaultInjector, FaultKind
from evbill.payments.providers.sandbox_webhooks import SIGNATURE_HEADER
from evbill.payments.webhooks import sign

from .clock import FakeClock

EUR50 = Money.of("50.00", "EUR")


# --- idempotency --------------------------------------------------------------------------


def test_same_key_same_parameters_returns_the_first_result(sandbox: SandboxProvider) -> None:
    first = sandbox.authorize(EUR50, cards.WALLET_APPLE_PAY, "k1", {"s": "1"})
    again = sandbox.authorize(EUR50, cards.WALLET_APPLE_PAY, "k1", {"s": "1"})
    assert again == first
    assert len(sandbox.authorizations()) == 1
    cap = sandbox.capture(first.id, Money.of("20", "EUR"), "c1")
    assert sandbox.capture(first.id, Money.of("20", "EUR"), "c1") == cap
    assert [op for op, _ in sandbox.executed] == ["authorize", "capture"]


def test_same_key_other_parameters_is_an_error(sandbox: SandboxProvider) -> None:
    sandbox.authorize(EUR50, cards.WALLET_APPLE_PAY, "k1", {"s": "1"})
    for amount, token, meta in [(Money.of("51", "EUR"), cards.WALLET_APPLE_PAY, {"s": "1"}),
                                (EUR50, cards.WALLET_GOOGLE_PAY, {"s": "1"}),
                                (EUR50, cards.WALLET_APPLE_PAY, {"s": "2"})]:
        with pytest.raises(IdempotencyConflict, match="idempotency_key: 'k1'"):
            sandbox.authorize(amount, token, "k1", meta)
    auth = sandbox.authorizations()[0]
    with pytest.raises(IdempotencyConflict):  # one key space across operations, like Stripe
        sandbox.capture(auth.id, EUR50, "k1")


def test_a_decline_is_replayed_not_re_evaluated(sandbox: SandboxProvider) -> None:
    auth = sandbox.authorize(EUR50, cards.WALLET_APPLE_PAY, "k1", {})
    sandbox.capture(auth.id, EUR50, "c1")
    with pytest.raises(InvalidPaymentRequest) as first:
        sandbox.capture(auth.id, EUR50, "c2")
    with pytest.raises(InvalidPaymentRequest) as second:
        sandbox.capture(auth.id, EUR50, "c2")
    assert second.value is first.value
    declined = sandbox.authorize(EUR50, cards.WALLET_DECLINED, "k2", {})
    assert sandbox.authorize(EUR50, cards.WALLET_DECLINED, "k2", {}) == declined


def test_empty_idempotency_key_is_refused(sandbox: SandboxProvider) -> None:
    with pytest.raises(InvalidPaymentRequest, match="idempotency_key: required"):
        sandbox.authorize(EUR50, cards.WALLET_APPLE_PAY, "", {})


# --- faults and latency -------------------------------------------------------------------


def test_timeout_after_execution_loses_the_response_but_not_the_charge(
    sandbox: SandboxProvider,
) -> None:
    sandbox.faults.fail_next(1, FaultKind.TIMEOUT)
    with pytest.raises(ProviderTimeout):
        sandbox.authorize(EUR50, cards.WALLET_APPLE_PAY, "k1", {})
    assert len(sandbox.authorizations()) == 1  # executed: the money is held
    replay = sandbox.authorize(EUR50, cards.WALLET_APPLE_PAY, "k1", {})
    assert replay.status is AuthorizationStatus.AUTHORIZED
    assert len(sandbox.authorizations()) == 1


def test_timeout_before_and_503_do_not_execute(sandbox: SandboxProvider) -> None:
    sandbox.faults.fail_next(1, FaultKind.TIMEOUT_BEFORE)
    sandbox.faults.fail_next(1, FaultKind.UNAVAILABLE)
    with pytest.raises(ProviderTimeout):
        sandbox.authorize(EUR50, cards.WALLET_APPLE_PAY, "k1", {})
    with pytest.raises(ProviderUnavailable, match="503"):
        sandbox.authorize(EUR50, cards.WALLET_APPLE_PAY, "k1", {})
    assert sandbox.authorizations() == [] and sandbox.executed == []
    assert sandbox.faults.pending == 0


def test_faults_can_target_one_operation(sandbox: SandboxProvider) -> None:
    sandbox.faults.fail_next(2, FaultKind.UNAVAILABLE, operations={"capture"})
    auth = sandbox.authorize(EUR50, cards.WALLET_APPLE_PAY, "k1", {})
    for _ in range(2):
        with pytest.raises(ProviderUnavailable):
            sandbox.capture(auth.id, EUR50, "c1")
    assert sandbox.capture(auth.id, EUR50, "c1").amount == EUR50


def test_timeout_on_a_decline_still_times_out(sandbox: SandboxProvider) -> None:
    auth = sandbox.authorize(EUR50, sandbox.tokenize(cards.CARD_INCREMENT_DECLINED, 1, 2030,
                                                     "123").token, "k1", {})
    sandbox.faults.fail_next(1, FaultKind.TIMEOUT)
    with pytest.raises(ProviderTimeout):
        sandbox.increment(auth.id, Money.of("60", "EUR"), "i1")
    with pytest.raises(PaymentDeclined):  # the stored outcome, replayed
        sandbox.increment(auth.id, Money.of("60", "EUR"), "i1")


def test_seeded_fault_rate_is_deterministic(clock: FakeClock) -> None:
    def run(seed: int) -> list[tuple[str, FaultKind]]:
        sandbox = SandboxProvider(clock=clock, namespace="r",
                                  faults=FaultInjector(rate=0.3, seed=seed))
        for i in range(200):
            with contextlib.suppress(ProviderTimeout, ProviderUnavailable):
                sandbox.authorize(EUR50, cards.WALLET_APPLE_PAY, f"k{i}", {})
        return sandbox.faults.injected

    first = run(7)
    assert first == run(7)
    assert first != run(8)
    assert 30 <= len(first) <= 90  # about 30 % of 200
    assert {kind for _, kind in first} == set(FaultKind)


def test_fault_rate_is_validated() -> None:
    with pytest.raises(ValueError, match="rate"):
        FaultInjector(rate=1.5)


def test_latency_sleeps_and_beyond_the_timeout_loses_the_response(clock: FakeClock) -> None:
    slept: list[float] = []
    sandbox = SandboxProvider(clock=clock, namespace="l", latency_s=0.2, timeout_s=1.0,
                              sleep=slept.append)
    sandbox.authorize(EUR50, cards.WALLET_APPLE_PAY, "k1", {})
    assert slept == [0.2]
    sandbox.latency_s = 5.0
    with pytest.raises(ProviderTimeout, match=r"within 1\.0s"):
        sandbox.authorize(EUR50, cards.WALLET_APPLE_PAY, "k2", {})
    assert slept == [0.2, 1.0]  # the client gives up at its timeout
    assert len(sandbox.authorizations()) == 2  # the slow request still went through


# --- webhooks -----------------------------------------------------------------------------


def test_money_movements_emit_signed_webhooks(sandbox: SandboxProvider) -> None:
    auth = sandbox.authorize(EUR50, cards.WALLET_APPLE_PAY, "k1", {})
    cap = sandbox.capture(auth.id, Money.of("12.34", "EUR"), "c1")
    refund = sandbox.refund(cap.id, Money.of("2.34", "EUR"), "r1")
    [settlement] = sandbox.settle()
    assert settlement.amount == Money.of("10.00", "EUR")
    assert settlement.data["captures"] == cap.id
    assert sandbox.settle() == []
    events = [sandbox.parse_webhook(w.headers, w.body) for w in sandbox.outbox]
    assert [e.type for e in events] == [
        WebhookEventType.CAPTURE_SUCCEEDED, WebhookEventType.REFUND_SUCCEEDED,
        WebhookEventType.SETTLEMENT_PAID]
    assert events[0].capture_id == cap.id and events[0].authorization_id == auth.id
    assert events[0].amount == Money.of("12.34", "EUR")
    assert events[1].refund_id == refund.id and events[1].amount == Money.of("2.34", "EUR")
    assert json.loads(sandbox.outbox[0].body)["data"]["object"]["amount"] == 1234


def test_expiry_and_challenge_webhooks(sandbox: SandboxProvider, clock: FakeClock) -> None:
    challenged = sandbox.authorize(
        EUR50, sandbox.tokenize(cards.CARD_3DS_REQUIRED, 1, 2030, "123").token, "k1", {})
    assert challenged.challenge_ref is not None
    sandbox.complete_challenge(challenged.challenge_ref, success=True)
    clock.advance(timedelta(days=7))
    sandbox.expire_due()
    types = [w.event.type for w in sandbox.outbox]
    assert types == [WebhookEventType.CHALLENGE_SUCCEEDED, WebhookEventType.AUTHORIZATION_EXPIRED]


def test_webhooks_delivered_to_a_subscriber(sandbox: SandboxProvider) -> None:
    received: list[tuple[dict[str, str], bytes]] = []
    sandbox.subscribe(lambda headers, body: received.append((headers, body)))
    auth = sandbox.authorize(EUR50, cards.WALLET_APPLE_PAY, "k1", {})
    sandbox.void(auth.id, "v1")
    assert sandbox.outbox == [] and len(received) == 1
    event = sandbox.parse_webhook(*received[0])
    assert event.type is WebhookEventType.AUTHORIZATION_VOIDED and event.authorization_id == auth.id


def test_forged_stale_replayed_and_malformed_webhooks_are_refused(
    sandbox: SandboxProvider, clock: FakeClock
) -> None:
    auth = sandbox.authorize(EUR50, cards.WALLET_APPLE_PAY, "k1", {})
    sandbox.capture(auth.id, EUR50, "c1")
    genuine = sandbox.outbox[0]
    forged_body = genuine.body.replace(b"5000", b"9000")
    with pytest.raises(WebhookSignatureInvalid):
        sandbox.parse_webhook(genuine.headers, forged_body)
    t = int(clock.now.timestamp())
    with pytest.raises(WebhookSignatureInvalid):
        sandbox.parse_webhook({SIGNATURE_HEADER: sign(forged_body, "whsec_guess", t)},
                              forged_body)
    with pytest.raises(WebhookSignatureInvalid, match="missing"):
        sandbox.parse_webhook({}, genuine.body)
    assert sandbox.parse_webhook(genuine.headers, genuine.body).id == genuine.event.id
    with pytest.raises(WebhookReplayed):
        sandbox.parse_webhook(genuine.headers, genuine.body)
    junk = b"not json"
    with pytest.raises(WebhookMalformed):
        sandbox.parse_webhook({SIGNATURE_HEADER: sign(junk, "whsec_test", t)}, junk)
    clock.advance(timedelta(minutes=5, seconds=1))
    with pytest.raises(WebhookStale):
        sandbox.parse_webhook(genuine.headers, genuine.body)


def test_lowercase_header_names_are_accepted(sandbox: SandboxProvider) -> None:
    auth = sandbox.authorize(EUR50, cards.WALLET_APPLE_PAY, "k1", {})
    sandbox.void(auth.id, "v1")
    w = sandbox.outbox[0]
    headers = {k.lower(): v for k, v in w.headers.items()}
    assert sandbox.parse_webhook(headers, w.body).type is WebhookEventType.AUTHORIZATION_VOIDED
