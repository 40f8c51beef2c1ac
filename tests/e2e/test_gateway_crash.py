"""`evbill serve` killed with SIGKILL mid-session and restarted loses nothing it acknowledged.

The gateway runs as a real subprocess on the test database (a SQLite file, and PostgreSQL).
A station only re-sends what was never acknowledged, so if the gateway had lost an
acknowledged message the session would come out short of samples or energy.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from e2e_world import PROTOCOLS, T0, TOKEN, register, sim_station

from evbill.sessions.service import SessionService
from evbill.sim.charging import SessionPlan, run_session
from evbill.sim.curves import Vehicle
from evbill.store.database import Database

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _serve(database_url: str, port: int, data_dir: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "EVBILL_DATABASE_URL": database_url, "EVBILL_OCPP_PORT": str(port),
           "EVBILL_OCPP_HOST": "127.0.0.1", "EVBILL_DATA_DIR": str(data_dir),
           "EVBILL_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, "-m", "evbill", "serve"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    async with asyncio.timeout(30):
        while True:
            assert proc.poll() is None, proc.stderr.read().decode()  # type: ignore[union-attr]
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                return proc
            except OSError:
                await asyncio.sleep(0.1)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_sigkill_mid_session_loses_nothing_acknowledged(
        database_url: str, tmp_path: Path, protocol: str) -> None:
    db = Database.open(database_url)
    register(db, ["E2E-1"])
    port = _free_port()
    server = await _serve(database_url, port, tmp_path)
    try:
        station = sim_station(f"ws://127.0.0.1:{port}/ocpp", "E2E-1", protocol)
        await station.connect()
        assert await station.boot() == "Accepted"
        car = Vehicle(battery_wh=Decimal(100_000), soc_percent=Decimal(10))
        plan = SessionPlan(TOKEN, car, max_duration_s=3600, step_pause_s=0.03)
        session = asyncio.create_task(run_session(station, plan))
        async with asyncio.timeout(30):
            while station.stats.acknowledged < 20:
                await asyncio.sleep(0.01)

        os.kill(server.pid, signal.SIGKILL)
        server.wait()
        acknowledged_at_kill = station.stats.acknowledged
        await asyncio.sleep(0.5)  # the station keeps charging and queues
        server = await _serve(database_url, port, tmp_path)
        outcome = await session
        await outcome.delivered(timeout=30)

        assert acknowledged_at_kill >= 20 and station.stats.reconnects >= 1
        assert outcome.energy_wh == 11_000
        detail = SessionService(db).find_session("E2E-1", str(outcome.transaction_id))
        assert detail is not None
        assert len(SessionService(db).list_sessions(station_id="E2E-1")) == 1
        assert detail.session.state == "rated", detail.session.flags
        assert detail.session.energy_wh == 11_000
        minutes = {T0 + timedelta(minutes=m) for m in range(1, 61)}
        assert minutes <= {s.at for s in detail.samples}
        assert detail.cdr is not None and detail.cdr.total_energy_wh == 11_000
        await station.close()
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        db.dispose()
