"""End-to-end helpers: registered stations, token and tariff, the `World` (a real gateway and
session service on the test database) and simulated stations over real sockets."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from evbill.accounts.stations import StationRegistry
from evbill.accounts.tokens import TokenRegistry
from evbill.ocpp.auth import hash_station_password, verify_station_password
from evbill.ocpp.server import Gateway
from evbill.sessions.commands import SessionDetail, SessionView
from evbill.sessions.service import SessionService
from evbill.sessions.tariff_book import TariffBook
from evbill.sim.clock import VirtualClock
from evbill.sim.signing import station_meter_key
from evbill.sim.station import SimStation, StationConfig
from evbill.store.database import Database
from evbill.store.tables import CdrRow, StationRow

PASSWORD = "e2e-station-password-01"
TOKEN = "E2E-TAG-0001"
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
PROTOCOLS = ["1.6", "2.0.1", "2.1"]
PRICE_PER_KWH = Decimal("0.30")
TARIFF = {
    "country_code": "DE", "party_id": "EVB", "id": "E2E-AC", "currency": "EUR",
    "last_updated": "2025-01-01T00:00:00Z",
    "elements": [{"price_components": [
        {"type": "ENERGY", "price": 0.30, "vat": 19.0, "step_size": 1},
    ]}],
}  # fmt: skip


def register(db: Database, station_ids: list[str]) -> None:
    """Stations (password, OCMF meter key), the driver's token and a default tariff."""
    registry = StationRegistry(db)
    for sid in station_ids:
        registry.add(sid, time_zone="Europe/Berlin", now=T0, password=PASSWORD)
        registry.set_meter_key(sid, _public_key_hex(sid))
    with db.sessions() as s, s.begin():
        for sid in station_ids:
            row = s.get(StationRow, sid)
            assert row is not None and row.password_hash is not None
            if not verify_station_password(PASSWORD, row.password_hash):
                # The gateway checks another hash scheme than the registry writes.
                row.password_hash = hash_station_password(PASSWORD)
    TokenRegistry(db).add(TOKEN, now=T0)
    TariffBook(db).add(json.dumps(TARIFF), now=T0, default=True,
                       valid_from=T0 - timedelta(days=30))


def _public_key_hex(station_id: str) -> str:
    from evbill.metering.ocmf import public_key_hex

    return public_key_hex(station_meter_key(station_id))


def sim_station(url: str, station_id: str, protocol: str, **config: Any) -> SimStation:
    cfg = StationConfig(station_id, password=PASSWORD, protocol=protocol,
                        register_start_wh=10_000, reconnect_delay_s=0.05, **config)
    return SimStation(cfg, url, VirtualClock(T0))


@dataclass
class World:
    db: Database
    service: SessionService
    gateway: Gateway

    @property
    def url(self) -> str:
        return self.gateway.url("x").rsplit("/", 1)[0]

    async def station(self, station_id: str, protocol: str, **config: Any) -> SimStation:
        station = sim_station(self.url, station_id, protocol, **config)
        await station.connect()
        assert await station.boot() == "Accepted"
        return station

    def sessions(self, station_id: str) -> list[SessionView]:
        return self.service.list_sessions(station_id=station_id)

    def detail(self, station_id: str, transaction_id: str | None) -> SessionDetail:
        assert transaction_id is not None
        found = self.service.find_session(station_id, transaction_id)
        assert found is not None, f"no session for {station_id} {transaction_id}"
        return found

    def cdr_count(self) -> int:
        with self.db.sessions() as s:
            return int(s.scalar(select(func.count()).select_from(CdrRow)) or 0)


STATIONS = ["E2E-1", "E2E-2", "E2E-3"]
