"""Retries: timeouts and 5xx retried with the same key and backoff; declines never."""

from __future__ import annotations

import logging
import random

import pytest

from evbill.money import Money
from evbill.payments.provider import (
    AuthorizationStatus,
    InvalidPaymentRequest,
    PaymentDeclined,
    ProviderTimeout,
    ProviderUnavailable,
)
from evbill.payments.providers import sandbox_vault as cards
from evbill.payments.providers.sandbox import SandboxProvider
from evbill.payments.providers.sandbox_faults import FaultKind
from evbill.payments.retry import RetryingProvider, RetryPolicy, call_with_retry

EUR50 = Money.of("50.00", "EUR")


def retrying(sandbox: SandboxProvider, slept: list[float], attempts: int = 4) -> RetryingProvider:
    return RetryingProvider(sandbox, RetryPolicy(max_attempts=attempts), sleep=slept.append,
                            rng=random.Random(1))


def test_timeout_then_retry_charges_exactly_once(sandbox: SandboxProvider) -> None:
    slept: list[float] = []
    provider = retrying(sandbox, slept)
    sandbox.faults.fail_next(2, FaultKind.TIMEOUT)  # both retries replay the stored result
    auth = provider.authorize(EUR50, cards.WALLET_APPLE_PAY, "sess-1/hold", {"s": "1"})
    assert auth.status is AuthorizationStatus.AUTHORIZED
    assert len(sandbox.authorizations()) == 1
    assert sandbox.executed == [("authorize", "sess-1/hold")]
    assert len(slept) == 2
    sandbox.faults.fail_next(1, FaultKind.TIMEOUT)
    capture = provider.capture(auth.id, Money.of("31.20", "EUR"), "sess-1/capture")
    assert capture.amount == Money.of("31.20", "EUR")
    assert [op for op, _ in sandbox.executed] == ["authorize", "capture"]
    [settlement] = sandbox.settle()
    assert settlement.amount == Money.of("31.20", "EUR")


def test_5xx_and_timeout_before_are_retried(sandbox: SandboxProvider) -> None:
    slept: list[float] = []
    sandbox.faults.fail_next(1, FaultKind.UNAVAILABLE)
    sandbox.faults.fail_next(1, FaultKind.TIMEOUT_BEFORE)
    auth = retrying(sandbox, slept).authorize(EUR50, cards.WALLET_APPLE_PAY, "k", {})
    assert auth.status is AuthorizationStatus.AUTHORIZED and len(slept) == 2


def test_attempts_are_bounded_and_the_last_error_surfaces(
    sandbox: SandboxProvider, caplog: pytest.LogCaptureFixture
) -> None:
    slept: list[float] = []
    sandbox.faults.fail_next(5, FaultKind.UNAVAILABLE)
    with caplog.at_level(logging.INFO, "evbill.payments.retry"), \
            pytest.raises(ProviderUnavailable):
        retrying(sandbox, slept, attempts=3).authorize(EUR50, cards.WALLET_APPLE_PAY, "k", {})
    assert len(slept) == 2 and sandbox.faults.pending == 2
    assert sandbox.authorizations() == []
    assert "payment.retry.exhausted operation=authorize idempotency_key=k attempts=3" in (
        caplog.text)


def test_declines_and_invalid_requests_are_never_retried(sandbox: SandboxProvider) -> None:
    slept: list[float] = []
    provider = retrying(sandbox, slept)
    declined = provider.authorize(EUR50, cards.WALLET_DECLINED, "k1", {})
    assert declined.status is AuthorizationStatus.DECLINED
    token = sandbox.tokenize(cards.CARD_INCREMENT_DECLINED, 1, 2030, "123").token
    auth = provider.authorize(EUR50, token, "k2", {})
    with pytest.raises(PaymentDeclined):
        provider.increment(auth.id, Money.of("60", "EUR"), "k3")
    with pytest.raises(InvalidPaymentRequest):
        provider.capture(auth.id, Money.of("99", "EUR"), "k4")
    assert slept == []
    assert [op for op, _ in sandbox.executed] == ["authorize", "authorize", "increment", "capture"]


def test_every_attempt_uses_the_same_idempotency_key() -> None:
    keys: list[str] = []

    def flaky() -> str:
        keys.append("key-1")
        if len(keys) < 3:
            raise ProviderTimeout("slow")
        return "ok"

    result = call_with_retry(flaky, operation="capture", idempotency_key="key-1",
                             policy=RetryPolicy(), sleep=lambda _: None)
    assert result == "ok" and keys == ["key-1"] * 3


def test_backoff_is_exponential_with_bounded_jitter() -> None:
    policy = RetryPolicy(max_attempts=8, base_delay_s=0.5, max_delay_s=4.0)
    rng = random.Random(3)
    for retry, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 4.0), (7, 4.0)]:
        delays = [policy.delay(retry, rng) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jittered, so clients do not retry in lockstep


def test_policy_is_validated() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="base_delay_s"):
        RetryPolicy(base_delay_s=2, max_delay_s=1)
