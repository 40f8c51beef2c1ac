"""Fixtures for the payments tests: a fixed clock, a sandbox on it, a recorded Stripe."""

from __future__ import annotations

import os

import pytest

from evbill.payments.providers.sandbox import SandboxProvider
from evbill.payments.providers.stripe import StripeProvider

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
