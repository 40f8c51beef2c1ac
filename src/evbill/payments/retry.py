"""Retries of provider calls: timeouts and 5xx only, same idempotency key, backoff with jitter.

A retried call reuses the idempotency key of the first attempt, so a request that did reach
the provider before the connection dropped is answered from the provider's idempotency
record instead of charging twice. Declines and invalid requests are never retried.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from evbill.money import Money
from evbill.payments.provider import (
    Authorization,
    Capture,
    PaymentProvider,
    ProviderError,
    Refund,
    WebhookEvent,
)

__all__ = ["RetryPolicy", "RetryingProvider", "call_with_retry"]

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded exponential backoff: delay n = min(max, base × factor^(n-1)), then jitter."""

    max_attempts: int = 4
    base_delay_s: float = 0.25
    max_delay_s: float = 5.0
    factor: float = 2.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts: must be at least 1, got {self.max_attempts}")
        if self.base_delay_s < 0 or self.max_delay_s < self.base_delay_s:
            raise ValueError("base_delay_s/max_delay_s: need 0 <= base_delay_s <= max_delay_s")

    def delay(self, retry_number: int, rng: random.Random) -> float:
        """Sleep before retry `retry_number` (1-based): 'equal jitter', in [d/2, d]."""
        ceiling = min(self.max_delay_s, self.base_delay_s * self.factor ** (retry_number - 1))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


def call_with_retry(
    call: Callable[[], T],
    *,
    operation: str,
    idempotency_key: str,
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> T:
    """Run `call` (which must close over one fixed idempotency key) until it answers.

    Retries `ProviderError` (timeouts, 5xx) up to `policy.max_attempts` attempts in all and
    re-raises the last one; anything else (a decline, an invalid request) goes straight up.
    """
    jitter = rng if rng is not None else random.Random()
    attempt = 1
    while True:
        try:
            return call()
        except ProviderError as exc:
            if attempt >= policy.max_attempts:
                log.warning(
                    "payment.retry.exhausted operation=%s idempotency_key=%s attempts=%d "
                    "error=%s", operation, idempotency_key, attempt, type(exc).__name__,
                )
                raise
            delay = policy.delay(attempt, jitter)
            log.info(
                "payment.retry operation=%s idempotency_key=%s attempt=%d error=%s delay_s=%.3f",
                operation, idempotency_key, attempt, type(exc).__name__, delay,
            )
            sleep(delay)
            attempt += 1


class RetryingProvider:
    """A `PaymentProvider` that retries the wrapped provider's transient failures."""

    def __init__(
        self,
        inner: PaymentProvider,
        policy: RetryPolicy | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()

    def _run(self, call: Callable[[], T], operation: str, key: str) -> T:
        return call_with_retry(
            call, operation=operation, idempotency_key=key, policy=self.policy,
            sleep=self._sleep, rng=self._rng,
        )

    def authorize(
        self, amount: Money, payment_method_token: str, idempotency_key: str,
        metadata: Mapping[str, str],
    ) -> Authorization:
        return self._run(
            lambda: self.inner.authorize(amount, payment_method_token, idempotency_key, metadata),
            "authorize", idempotency_key,
        )

    def increment(
        self, authorization_id: str, new_amount: Money, idempotency_key: str
    ) -> Authorization:
        return self._run(
            lambda: self.inner.increment(authorization_id, new_amount, idempotency_key),
            "increment", idempotency_key,
        )

    def capture(self, authorization_id: str, amount: Money, idempotency_key: str) -> Capture:
        return self._run(
            lambda: self.inner.capture(authorization_id, amount, idempotency_key),
            "capture", idempotency_key,
        )

    def void(self, authorization_id: str, idempotency_key: str) -> Authorization:
        return self._run(
            lambda: self.inner.void(authorization_id, idempotency_key), "void", idempotency_key
        )

    def refund(self, capture_id: str, amount: Money | None, idempotency_key: str) -> Refund:
        return self._run(
            lambda: self.inner.refund(capture_id, amount, idempotency_key),
            "refund", idempotency_key,
        )

    def retrieve(self, authorization_id: str) -> Authorization:
        return self._run(
            lambda: self.inner.retrieve(authorization_id), "retrieve", authorization_id
        )

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        return self.inner.parse_webhook(headers, body)
