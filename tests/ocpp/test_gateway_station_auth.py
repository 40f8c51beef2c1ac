"""Issue 11 F7: station authentication is cheap per attempt and throttled.

Station passwords are stored as a keyed hash (HMAC under the installation's key, as API keys
are), older PBKDF2 hashes still verify and are replaced at the next good login, and failed
handshakes are counted per address and per station id: past the budget an address is
answered 429 at once, while the real station, from its own address, still gets in.
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from ocpp_fakes import FakeSessions
from ocpp_kit import gateway_config, station
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from evbill.accounts.stations import StationRegistry
from evbill.ocpp.auth import (
    SecurityProfile,
    StoreCredentials,
    hash_station_password,
    verify_station_password,
)
from evbill.ocpp.server import Gateway
from evbill.store.database import Database
from evbill.store.tables import StationRow

PASSWORD = "s3cret-station-password-0001"
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def db(database_url: str) -> AsyncIterator[Database]:
    database = Database.open(database_url)
    yield database  # type: ignore[misc]
    database.dispose()


@pytest.fixture
async def store_gateway(db: Database, sessions: FakeSessions) -> AsyncIterator[Gateway]:
    StationRegistry(db).add("CS-REAL", time_zone="Europe/Berlin", now=T0, password=PASSWORD)
    config = gateway_config(security_profile=SecurityProfile.BASIC,
                            auth_failures_per_address=5, auth_failures_per_station=3)
    async with Gateway(config, sessions, credentials=StoreCredentials(db)) as gw:
        yield gw


async def _status(gw: Gateway, station_id: str, password: str, source: str) -> int:
    try:
        ws = await connect(gw.url(station_id), subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                           additional_headers=basic(station_id, password),
                           local_addr=(source, 0))
    except InvalidStatus as refused:
        if refused.response.status_code == 429:
            assert int(refused.response.headers["Retry-After"]) >= 1
        return refused.response.status_code
    await ws.close()
    return 101


async def test_stored_hash_is_keyed_and_the_station_connects(
    store_gateway: Gateway, db: Database
) -> None:
    with db.read_sessions() as s:
        row = s.get(StationRow, "CS-REAL")
        assert row is not None and row.password_hash is not None
        assert row.password_hash.startswith("hmac_sha256$") and PASSWORD not in row.password_hash
    async with station(store_gateway, "CS-REAL", "ocpp2.0.1",
                       additional_headers=basic("CS-REAL", PASSWORD)):
        assert store_gateway.is_connected("CS-REAL")


async def test_an_older_pbkdf2_hash_still_works_and_is_upgraded(
    store_gateway: Gateway, db: Database
) -> None:
    with db.sessions() as s, s.begin():
        row = s.get(StationRow, "CS-REAL")
        assert row is not None
        row.password_hash = hash_station_password(PASSWORD)  # as stored before this change
        assert row.password_hash.startswith("pbkdf2_sha256$")
    assert await _status(store_gateway, "CS-REAL", "wrong-password-0000000", "127.0.0.1") == 401
    assert await _status(store_gateway, "CS-REAL", PASSWORD, "127.0.0.2") == 101
    with db.read_sessions() as s:
        upgraded = s.get(StationRow, "CS-REAL")
        assert upgraded is not None and upgraded.password_hash is not None
        assert upgraded.password_hash.startswith("hmac_sha256$")
    assert await _status(store_gateway, "CS-REAL", PASSWORD, "127.0.0.2") == 101


async def test_failed_handshakes_are_throttled_per_address(store_gateway: Gateway) -> None:
    answers = [await _status(store_gateway, f"CS-GUESS-{i}", "wrong-password-0000000",
                             "127.0.0.9") for i in range(8)]
    assert answers == [401] * 5 + [429] * 3
    # Another address is not punished for this one's failures.
    assert await _status(store_gateway, "CS-REAL", PASSWORD, "127.0.0.10") == 101


async def test_a_flooded_station_id_still_admits_the_real_station(
    store_gateway: Gateway,
) -> None:
    flood = [await _status(store_gateway, "CS-REAL", "wrong-password-0000000", source)
             for source in ("127.0.1.1", "127.0.1.1", "127.0.1.2", "127.0.1.2")]
    assert flood == [401, 401, 401, 429]  # third failure for the id; 127.0.1.2 has failed
    assert await _status(store_gateway, "CS-REAL", PASSWORD, "127.0.1.3") == 101
    assert await _status(store_gateway, "CS-REAL", "wrong-password-0000000",
                         "127.0.1.4") == 401  # a clean address gets its answer once…
    assert await _status(store_gateway, "CS-REAL", PASSWORD, "127.0.1.4") == 429  # …then not


def test_a_keyed_check_costs_microseconds_not_milliseconds() -> None:
    key = b"k" * 32
    keyed, slow = hash_station_password(PASSWORD, key=key), hash_station_password(PASSWORD)
    started = time.perf_counter()
    for _ in range(2_000):
        assert not verify_station_password("wrong-password-0000000", keyed, key)
    keyed_cost = (time.perf_counter() - started) / 2_000
    started = time.perf_counter()
    for _ in range(20):
        assert not verify_station_password("wrong-password-0000000", slow)
    slow_cost = (time.perf_counter() - started) / 20
    assert keyed_cost < 0.0005 and keyed_cost * 50 < slow_cost
