"""Fixtures for the payments tests: a fixed clock, a sandbox on it, a recorded Stripe."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from decimal import Decimal

import pytest

from evbill.ledger.service import LedgerService
from evbill.ledger.store import sql_unit_of_work
from evbill.money import Money
from evbill.payments.model import PaymentSettings
from evbill.payments.providers.sandbox import SandboxProvider
from evbill.payments.providers.stripe import StripeProvider
from evbill.payments.retry import RetryingProvider, RetryPolicy
from evbill.payments.service import PaymentService
from evbill.store.database import Database

from .clock import FakeClock
from .stripe_recorder import RecordingHTTPClient

#: Set to a Stripe *test mode* secret key (sk_test_…) to run the Stripe tests for real.
LIVE_KEY_ENV = "EVBILL_STRIPE_TEST_SECRET_KEY"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> SandboxProvider:
    return SandboxProvider(clock=clock, namespace="t", webhook_secret="whsec_test")


@pytest.fixture
def stripe_http() -> RecordingHTTPClient:
    """Recorded Stripe responses; forwarded to a Stripe test account when
    EVBILL_STRIPE_TEST_SECRET_KEY is set (see docs/payments.md)."""
    live = None
    if os.environ.get(LIVE_KEY_ENV):
        import stripe

        live = stripe.RequestsClient()
    return RecordingHTTPClient(live=live)


@pytest.fixture
def stripe_provider(stripe_http: RecordingHTTPClient, clock: FakeClock) -> StripeProvider:
    return StripeProvider.from_api_key(
        os.environ.get(LIVE_KEY_ENV, "sk_test_evbill_recorded"),
        webhook_secret="whsec_test_evbill", http_client=stripe_http, clock=clock,
    )


@dataclass
class Flows:
    """A payment service on a real database and ledger, over the sandbox, with retries."""

    service: PaymentService
    sandbox: SandboxProvider
    ledger: LedgerService
    clock: FakeClock
    db: Database

    def balance(self, account: str, currency: str = "EUR") -> Decimal:
        for line in self.ledger.trial_balance().lines:
            if line.account == account and line.currency == currency:
                return line.balance
        return Decimal(0)


SETTINGS = PaymentSettings(
    station_holds={"CP-FAST": Money.of("80.00", "EUR")},
    station_wallet_minimums={"CP-FAST": Money.of("20.00", "EUR")},
)


@pytest.fixture
def flows(db: Database, clock: FakeClock, sandbox: SandboxProvider) -> Flows:
    provider = RetryingProvider(sandbox, RetryPolicy(max_attempts=3), sleep=lambda _: None,
                                rng=random.Random(0))
    ledger = LedgerService(sql_unit_of_work(db))
    service = PaymentService(db, provider, ledger, settings=SETTINGS, clock=clock)
    return Flows(service, sandbox, ledger, clock, db)
