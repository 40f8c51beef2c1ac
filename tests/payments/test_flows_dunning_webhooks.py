"""Dunning for captures that keep failing, and webhook forgery, staleness and replay,
on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import pytest

from evbill.ledger import accounts
from evbill.ledger.postings import VatLine
from evbill.money import Money
from evbill.payments.model import SessionCharge
from evbill.payments.provider import (
    AuthorizationState,
    WebhookEventType,
    WebhookReplayed,
    WebhookSignatureInvalid,
    WebhookStale,
)
from evbill.payments.providers import sandbox_vault as cards
from evbill.payments.providers.sandbox import SandboxProvider
from evbill.payments.providers.sandbox_faults import FaultKind
from evbill.payments.providers.sandbox_webhooks import SIGNATURE_HEADER
from evbill.payments.retry import RetryingProvider, RetryPolicy
from evbill.payments.service import PaymentService
from evbill.payments.webhooks import sign

from .conftest import SETTINGS, Flows

CLEARING = accounts.provider_clearing("sandbox")
HELD = accounts.authorizations("sandbox")


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


CHARGE = SessionCharge("sess-1", "op-1", eur("19.72"), (VatLine("DE", "19", eur("3.75")),))


def held(flows: Flows) -> None:
    flows.service.authorize_hold(reference="sess-1", account="drv-1",
                                 payment_method_token=cards.WALLET_APPLE_PAY)


# --- dunning ------------------------------------------------------------------------------------


def test_a_capture_that_keeps_failing_goes_to_dunning_and_is_retried_once_fixed(
    flows: Flows,
) -> None:
    held(flows)
    flows.sandbox.faults.fail_next(6, FaultKind.UNAVAILABLE, operations={"capture"})
    assert flows.service.capture(CHARGE) == "dunning"
    [item] = flows.service.dunning_queue()
    assert (item.reference, item.amount, item.attempts) == ("sess-1", eur("23.47"), 1)
    assert "ProviderUnavailable" in item.last_error
    assert item.next_attempt_at == flows.clock.now + timedelta(hours=6)
    assert flows.service.capture(CHARGE) == "dunning"  # no new item, no new attempt
    assert flows.service.retry_dunning(item.id, actor="operator:anna") == "open"
    assert flows.service.dunning_queue()[0].attempts == 2
    assert flows.balance(CLEARING) == 0 and flows.balance(HELD) == Decimal("50.00")
    assert flows.service.retry_dunning(item.id, actor="operator:anna") == "resolved"
    assert flows.service.dunning_queue() == []
    assert flows.balance(CLEARING) == Decimal("23.47") and flows.balance(HELD) == 0
    assert [op for op, _ in flows.sandbox.executed] == ["authorize", "capture"]
    actions = [a for _, a, _, _ in flows.service.audit_trail("sess-1")]
    assert actions == ["dunning_opened", "dunning_retry", "capture", "dunning_retry"]


def test_written_off_dunning_releases_the_hold(flows: Flows) -> None:
    held(flows)
    flows.sandbox.faults.fail_next(3, FaultKind.UNAVAILABLE, operations={"capture"})
    flows.service.capture(CHARGE)
    [item] = flows.service.dunning_queue()
    flows.service.write_off(item.id, actor="operator:anna", reason="card closed")
    assert flows.service.dunning_queue() == []
    assert [i.id for i in flows.service.dunning_queue(status="written_off")] == [item.id]
    assert flows.sandbox.authorizations()[0].state is AuthorizationState.VOIDED
    assert flows.balance(HELD) == 0 and flows.ledger.trial_balance().balanced


def test_lost_capture_response_is_reconciled_by_the_webhook(flows: Flows) -> None:
    held(flows)
    flows.sandbox.faults.fail_next(3, FaultKind.TIMEOUT, operations={"capture"})
    assert flows.service.capture(CHARGE) == "dunning"  # executed once, every answer lost
    captured = [w for w in flows.sandbox.outbox if w.event.type is
                WebhookEventType.CAPTURE_SUCCEEDED]
    outcome = flows.service.handle_webhook(captured[0].headers, captured[0].body)
    assert outcome.outcome == "reconciled: resolved"
    assert flows.balance(CLEARING) == Decimal("23.47")
    assert [op for op, _ in flows.sandbox.executed] == ["authorize", "capture"]


# --- webhooks -----------------------------------------------------------------------------------


def test_forged_and_stale_webhooks_change_nothing(flows: Flows) -> None:
    held(flows)
    flows.clock.advance(timedelta(days=7))
    flows.sandbox.expire_due()
    [genuine] = flows.sandbox.outbox
    t = int(flows.clock.now.timestamp())
    with pytest.raises(WebhookSignatureInvalid):
        flows.service.handle_webhook({SIGNATURE_HEADER: sign(genuine.body, "whsec_evil", t)},
                                     genuine.body)
    tampered = genuine.body.replace(b"authorization.expired", b"authorization.voided")
    assert tampered != genuine.body
    with pytest.raises(WebhookSignatureInvalid):
        flows.service.handle_webhook(genuine.headers, tampered)
    flows.clock.advance(timedelta(minutes=6))
    with pytest.raises(WebhookStale):
        flows.service.handle_webhook(genuine.headers, genuine.body)
    assert flows.balance(HELD) == Decimal("50.00")  # still held: nothing was applied


def test_replayed_webhooks_are_refused_even_after_a_restart(flows: Flows) -> None:
    held(flows)
    flows.service.capture(CHARGE)
    flows.sandbox.settle()
    settlement = flows.sandbox.outbox[-1]
    assert settlement.event.type is WebhookEventType.SETTLEMENT_PAID
    outcome = flows.service.handle_webhook(settlement.headers, settlement.body)
    assert outcome.outcome == "payout of 23.47 EUR booked"
    assert flows.balance(accounts.bank()) == Decimal("23.47") and flows.balance(CLEARING) == 0
    with pytest.raises(WebhookReplayed):  # the provider adapter's memory
        flows.service.handle_webhook(settlement.headers, settlement.body)
    # A restarted process: a fresh adapter without that memory, the same database.
    fresh = SandboxProvider(clock=flows.clock, namespace="t2", webhook_secret="whsec_test")
    restarted = PaymentService(flows.db, RetryingProvider(fresh, RetryPolicy(),
                                                          sleep=lambda _: None,
                                                          rng=random.Random(0)),
                               flows.ledger, settings=SETTINGS, clock=flows.clock)
    with pytest.raises(WebhookReplayed, match="was processed at"):
        restarted.handle_webhook(settlement.headers, settlement.body)
    assert flows.balance(accounts.bank()) == Decimal("23.47")


def test_webhooks_about_unknown_payments_are_recorded_and_ignored(flows: Flows) -> None:
    other = SandboxProvider(clock=flows.clock, namespace="x", webhook_secret="whsec_test")
    auth = other.authorize(eur("5"), cards.WALLET_APPLE_PAY, "k", {})
    other.void(auth.id, "v")
    [event] = other.outbox
    assert flows.service.handle_webhook(event.headers, event.body).outcome == (
        "ignored: unknown authorization")
    assert flows.ledger.entry_count() == 0
