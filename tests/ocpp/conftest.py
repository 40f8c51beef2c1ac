"""Fixtures for the gateway tests: a fake session service and a gateway on an ephemeral port."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from ocpp_fakes import FakeSessions
from ocpp_kit import gateway_config

from evbill.ocpp.server import Gateway


@pytest.fixture
def sessions() -> FakeSessions:
    return FakeSessions()


@pytest.fixture
async def gateway(sessions: FakeSessions) -> AsyncIterator[Gateway]:
    async with Gateway(gateway_config(), sessions) as gw:
        yield gw
