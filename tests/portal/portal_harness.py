"""A live evbill for browser tests: the API/portal (uvicorn), the OCPP gateway and a
simulated station with a car, all on one accelerated clock in a background thread."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from playwright.sync_api import Page
from pydantic import SecretStr

from evbill.accounts.roles import Role
from evbill.accounts.stations import StationRegistry
from evbill.accounts.tokens import TokenRegistry
from evbill.api.app import create_app
from evbill.api.context import ApiContext
from evbill.api.server import serve_api
from evbill.api.settings import ApiSettings
from evbill.api.tables import TariffOwnerRow
from evbill.api.users import users_of
from evbill.config import Settings
from evbill.ocpp.auth import StoreCredentials, hash_station_password
from evbill.ocpp.server import Gateway, GatewayConfig
from evbill.payments.providers.sandbox import SandboxProvider
from evbill.sessions.service import SessionService
from evbill.sessions.tariff_book import TariffBook
from evbill.sim.charging import SessionPlan, SessionRunner
from evbill.sim.clock import AcceleratedClock
from evbill.sim.curves import Vehicle
from evbill.sim.station import SimStation, StationConfig
from evbill.store.database import Database
from evbill.store.outbox import StationCommandOutbox
from evbill.store.tables import StationRow

SHOTS = Path(os.environ.get("EVBILL_SHOTS", Path(tempfile.gettempdir()) / "evbill-portal-shots"))
STATION, OPERATOR, CARD = "PT-1", "op-portal", "04AABBCCDD"
PASSWORD = "portal-station-password"
USER_PASSWORD = "portal test password"
FACTOR = 30.0  # one real second is half a simulated minute
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
TARIFF = {"country_code": "DE", "party_id": "EVB", "id": "PT-AC", "currency": "EUR",
          "last_updated": "2026-01-01T00:00:00Z",
          "elements": [{"price_components": [
              {"type": "ENERGY", "price": 0.30, "vat": 19.0, "step_size": 1},
              {"type": "PARKING_TIME", "price": 6.00, "vat": 19.0, "step_size": 60}]}]}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LivePortal:
    """Everything running; `url` is the portal's base URL."""

    db: Database
    ctx: ApiContext
    url: str
    clock: Callable[[], datetime]
    runner: SessionRunner | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _stop: asyncio.Event | None = None
    _thread: threading.Thread | None = None
    errors: list[BaseException] = field(default_factory=list)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=20)


def seed(db: Database, ctx: ApiContext, now: datetime) -> None:
    """A station with two EVSEs on the operator's network, its tariff, a driver with a card
    and a topped-up wallet, and an operator admin."""
    StationRegistry(db).add(STATION, time_zone="Europe/Berlin", now=now, evses=2,
                            operator=OPERATOR)
    with db.sessions() as s, s.begin():
        row = s.get(StationRow, STATION)
        assert row is not None
        row.password_hash = hash_station_password(PASSWORD)
        s.add(TariffOwnerRow(tariff_id="PT-AC", operator_id=OPERATOR))
    TariffBook(db).add(json.dumps(TARIFF), now=now, station_id=STATION,
                       valid_from=now - timedelta(days=30))
    users = users_of(ctx)
    driver = users.create("dana@example.org", USER_PASSWORD, "Dana Driver", Role.DRIVER)
    users.create("oscar@example.org", USER_PASSWORD, "Oscar Operator", Role.OPERATOR_ADMIN,
                 OPERATOR)
    TokenRegistry(db).add(CARD, account=driver.token_account, now=now)
    card = ctx.provider.tokenize("4242424242424242", 12, 2031, "123")  # type: ignore[attr-defined]
    ctx.payments.add_payment_method(driver.token_account, card.token)
    from evbill.money import Money

    ctx.payments.top_up(driver.token_account, Money.of("30.00", "EUR"), card.token, "seed")


def start(database_url: str, data_dir: Path) -> LivePortal:
    clock_source = AcceleratedClock(datetime.now(UTC), FACTOR)
    clock = clock_source.now
    db = Database.open(database_url)
    settings = Settings(database_url=database_url, data_dir=data_dir)
    api = ApiSettings(secret_key=SecretStr("portal-test-secret-0123456789abcdef"),
                      field_key=SecretStr(Fernet.generate_key().decode()),
                      argon2_time_cost=1, argon2_memory_kib=1024, settle_interval_s=0.3,
                      demo=True)  # a plain-http browser session
    port = free_port()
    app = create_app(settings, api_settings=api, db=db, clock=clock,
                     provider=SandboxProvider(clock=clock, namespace="p"))
    ctx: ApiContext = app.state.evbill
    seed(db, ctx, clock())
    live = LivePortal(db, ctx, f"http://127.0.0.1:{port}", clock)
    ready = threading.Event()

    async def main() -> None:
        live._loop, live._stop = asyncio.get_running_loop(), asyncio.Event()
        service = SessionService(db, settings, clock=clock)
        gateway = Gateway(GatewayConfig(port=0, command_poll_interval_s=0.2), service,
                          credentials=StoreCredentials(db), outbox=StationCommandOutbox(db),
                          clock=clock)
        async with gateway:
            api_task = asyncio.create_task(serve_api(app, "127.0.0.1", port, live._stop))
            station = SimStation(StationConfig(STATION, password=PASSWORD, protocol="2.0.1",
                                               evses=2, meter_interval_s=30,
                                               register_start_wh=1_000),
                                 gateway.url("x").rsplit("/", 1)[0], clock_source)
            await station.connect()
            await station.boot()

            def car() -> Vehicle:
                return Vehicle(battery_wh=Decimal(60_000), soc_percent=Decimal(20))

            live.runner = SessionRunner(station, car, SessionPlan(CARD, car(),
                                                                  max_duration_s=4 * 3600))
            await _wait_http(port)
            ready.set()
            await live._stop.wait()
            await station.close()
            await api_task

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # surfaced by the fixture
            live.errors.append(exc)
            ready.set()

    live._thread = threading.Thread(target=run, name="evbill-portal", daemon=True)
    live._thread.start()
    if not ready.wait(timeout=30) or live.errors:
        raise RuntimeError(f"the live portal did not start: {live.errors}")
    return live


async def _wait_http(port: int) -> None:
    for _ in range(100):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError("the API server did not listen")


def launch_args() -> dict[str, Any]:
    return {"executable_path": "/usr/bin/chromium", "args": CHROMIUM_ARGS}


def shot(page: Page, name: str) -> None:
    """Keep a screenshot of what the test saw (in $EVBILL_SHOTS or a temp folder)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
