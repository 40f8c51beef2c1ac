"""Stripe webhooks: verified with `stripe.Webhook.construct_event`, then stale/replay checks."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import stripe

from evbill.money import Money
from evbill.payments.provider import (
    WebhookEventType,
    WebhookMalformed,
    WebhookReplayed,
    WebhookSignatureInvalid,
    WebhookStale,
)
from evbill.payments.providers.stripe import SIGNATURE_HEADER, StripeProvider

from .clock import FakeClock
from .stripe_recorder import FIXTURES

SECRET = "whsec_test_evbill"


def delivery(name: str, clock: FakeClock, *, secret: str = SECRET,
             skew: timedelta = timedelta(0)) -> tuple[dict[str, str], bytes]:
    body = (FIXTURES / f"{name}.json").read_text(encoding="utf-8")
    t = int((clock.now + skew).timestamp())
    header = stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=t)
    return {SIGNATURE_HEADER: header}, body.encode("utf-8")


@pytest.mark.parametrize(
    ("fixture", "event_type", "amount", "authorization_id", "capture_id", "refund_id"),
    [("event_payment_intent_succeeded", WebhookEventType.CAPTURE_SUCCEEDED, "23.47",
      "pi_3QevbillHold00000000001", "ch_3QevbillHold00000000001", None),
     ("event_payment_intent_canceled_automatic", WebhookEventType.AUTHORIZATION_EXPIRED,
      "50.00", "pi_3QevbillHold00000000001", None, None),
     ("event_amount_capturable_updated", WebhookEventType.CHALLENGE_SUCCEEDED, "50.00",
      "pi_3QevbillChallenge000001", "ch_3QevbillChallenge000001", None),
     ("event_payment_failed", WebhookEventType.CHALLENGE_FAILED, "50.00",
      "pi_3QevbillChallenge000001", None, None),
     ("event_refund_updated", WebhookEventType.REFUND_SUCCEEDED, "10.00",
      "pi_3QevbillHold00000000001", "ch_3QevbillHold00000000001", "re_3QevbillRefund00000001"),
     ("event_payout_paid", WebhookEventType.SETTLEMENT_PAID, "13.47", None, None, None),
     ("event_charge_captured", WebhookEventType.OTHER, "50.00", None, None, None)],
)
def test_events_are_translated(
    stripe_provider: StripeProvider, clock: FakeClock, fixture: str,
    event_type: WebhookEventType, amount: str, authorization_id: str | None,
    capture_id: str | None, refund_id: str | None,
) -> None:
    event = stripe_provider.parse_webhook(*delivery(fixture, clock))
    raw = json.loads((FIXTURES / f"{fixture}.json").read_text())
    assert event.id == raw["id"] and event.provider_type == raw["type"]
    assert event.type is event_type
    assert event.amount == Money.of(amount, "EUR")
    assert (event.authorization_id, event.capture_id, event.refund_id) == (
        authorization_id, capture_id, refund_id)


def test_payout_event_names_the_payout(stripe_provider: StripeProvider, clock: FakeClock) -> None:
    event = stripe_provider.parse_webhook(*delivery("event_payout_paid", clock))
    assert event.data["payout"] == "po_1QevbillPayout000000001"


def test_forged_events_are_refused(stripe_provider: StripeProvider, clock: FakeClock) -> None:
    headers, body = delivery("event_payment_intent_succeeded", clock, secret="whsec_attacker")
    with pytest.raises(WebhookSignatureInvalid, match="Stripe-Signature"):
        stripe_provider.parse_webhook(headers, body)
    headers, body = delivery("event_payment_intent_succeeded", clock)
    with pytest.raises(WebhookSignatureInvalid):
        stripe_provider.parse_webhook(headers, body.replace(b"2347", b"9999"))
    with pytest.raises(WebhookSignatureInvalid):
        stripe_provider.parse_webhook({}, body)


@pytest.mark.parametrize("skew", [timedelta(minutes=-5, seconds=-1),
                                  timedelta(minutes=5, seconds=1), timedelta(days=-30)])
def test_stale_events_are_refused(
    stripe_provider: StripeProvider, clock: FakeClock, skew: timedelta
) -> None:
    with pytest.raises(WebhookStale, match="tolerance"):
        stripe_provider.parse_webhook(*delivery("event_refund_updated", clock, skew=skew))


def test_replayed_events_are_refused(stripe_provider: StripeProvider, clock: FakeClock) -> None:
    first = delivery("event_refund_updated", clock)
    stripe_provider.parse_webhook(*first)
    with pytest.raises(WebhookReplayed, match="evt_3QevbillEvent000000005"):
        stripe_provider.parse_webhook(*first)
    clock.advance(timedelta(seconds=40))  # Stripe re-signs a redelivery with a new timestamp
    with pytest.raises(WebhookReplayed):
        stripe_provider.parse_webhook(*delivery("event_refund_updated", clock))


def test_signed_but_unreadable_bodies_are_malformed(
    stripe_provider: StripeProvider, clock: FakeClock
) -> None:
    t = int(clock.now.timestamp())
    for body in ("not json", json.dumps({"id": "evt_x", "object": "event", "type": "x"})):
        header = stripe.WebhookSignature.generate_signature_header(body, SECRET, timestamp=t)
        with pytest.raises(WebhookMalformed):
            stripe_provider.parse_webhook({SIGNATURE_HEADER: header}, body.encode())
