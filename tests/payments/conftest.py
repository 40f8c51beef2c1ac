"""Fixtures for the payments tests: a fixed clock and a sandbox on it."""

from __future__ import annotations

import pytest

from evbill.payments.providers.sandbox import SandboxProvider

from .clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> SandboxProvider:
    return SandboxProvider(clock=clock, namespace="t", webhook_secret="whsec_test")
