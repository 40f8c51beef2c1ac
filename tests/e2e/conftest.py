"""End-to-end fixtures: a real gateway and session service on the test database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from e2e_world import STATIONS, World, register
from payments_world import paid, payment_settings  # noqa: F401  (payments e2e fixtures)

from evbill.config import Settings
from evbill.ocpp.auth import StoreCredentials
from evbill.ocpp.server import Gateway, GatewayConfig
from evbill.sessions.service import SessionService
from evbill.store.database import Database


@pytest.fixture
async def world(database_url: str, tmp_path: Path) -> AsyncIterator[World]:
    db = Database.open(database_url)
    register(db, STATIONS)
    settings = Settings(database_url=database_url, data_dir=tmp_path,
                        auto_register_stations=False)
    service = SessionService(db, settings)
    gateway = Gateway(GatewayConfig(port=0, command_poll_interval_s=0.2), service,
                      credentials=StoreCredentials(db))
    try:
        async with gateway:
            yield World(db, service, gateway)
    finally:
        db.dispose()
