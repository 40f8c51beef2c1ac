"""Issue 17 item 3, over a real socket: an OCPP 2.0.1 station that reports a plain card as
`Local` (as real firmware and the independent simulator do) gets Accepted for a card registered
as ISO14443; eMAID and MacAddress stay credentials of their own kind."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from websockets.asyncio.client import connect

from evbill.accounts.stations import StationRegistry
from evbill.accounts.tokens import TokenRegistry
from evbill.config import Settings
from evbill.ocpp.auth import SecurityProfile
from evbill.ocpp.server import Gateway, GatewayConfig
from evbill.sessions.commands import IdTokenType
from evbill.sessions.service import SessionService
from evbill.store.database import Database

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def gateway(db: Database, tmp_path: Any) -> AsyncIterator[Gateway]:
    StationRegistry(db).add("CS-201", time_zone="Europe/Berlin", now=T0)
    tokens = TokenRegistry(db)
    tokens.add("04:a1:b2:c3:d4:e5:f6", now=T0, account="driver.a")  # ISO14443
    tokens.add("AABBCCDDEEFF", type_=IdTokenType.MAC_ADDRESS, now=T0, account="car.b")
    tokens.add("0BADCAFE", now=T0, status="Blocked")
    settings = Settings(data_dir=tmp_path)
    config = GatewayConfig(port=0, security_profile=SecurityProfile.NONE, ping_interval_s=None,
                           call_timeout_s=5.0, command_poll_interval_s=0.05)  # fmt: skip
    async with Gateway(config, SessionService(db, settings)) as gw:
        yield gw


async def _authorize(gw: Gateway, value: str, type_: str) -> str:
    async with connect(gw.url("CS-201"), subprotocols=["ocpp2.0.1"]) as ws:  # type: ignore[list-item]
        frame = [2, "a1", "Authorize", {"idToken": {"idToken": value, "type": type_}}]
        await ws.send(json.dumps(frame))
        answer = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert answer[:2] == [3, "a1"], answer
    return str(answer[2]["idTokenInfo"]["status"])


@pytest.mark.parametrize(
    ("value", "type_", "expected"),
    [
        ("04A1B2C3D4E5F6", "Local", "Accepted"),  # the 2.0.1 simulator's plain card
        ("04a1b2c3d4e5f6", "ISO15693", "Accepted"),
        ("04:A1:B2:C3:D4:E5:F6", "KeyCode", "Accepted"),
        ("04A1B2C3D4E5F6", "ISO14443", "Accepted"),
        ("0BADCAFE", "Local", "Blocked"),  # a blocked card is blocked whatever type is reported
        ("04A1B2C3D4E5F6", "MacAddress", "Unknown"),  # a card is not a vehicle
        ("04A1B2C3D4E5F6", "eMAID", "Unknown"),  # nor a contract
        ("AABBCCDDEEFF", "Local", "Unknown"),  # a vehicle's MAC is not a card
        ("aa:bb:cc:dd:ee:ff", "MacAddress", "Accepted"),
    ],
)
async def test_a_2_0_1_authorize_matches_the_card_whatever_card_type(
    gateway: Gateway, value: str, type_: str, expected: str
) -> None:
    assert await _authorize(gateway, value, type_) == expected
