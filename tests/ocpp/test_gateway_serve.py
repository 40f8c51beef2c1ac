"""`evbill serve` as a real process, and one slow service call not stalling other stations."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from ocpp.v16 import call as call16
from ocpp_fakes import FakeSessions
from ocpp_kit import exchange, raw, station
from websockets.asyncio.client import connect

from evbill.ocpp.server import Gateway


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.e2e
@pytest.mark.parametrize("api", [True, False], ids=["with-api", "no-api"])
async def test_serve_runs_on_embedded_sqlite_and_stops_on_sigterm(tmp_path: Path,
                                                                  api: bool) -> None:  # fmt: skip
    api_port = _free_port()
    env = {
        **os.environ,
        "EVBILL_DATA_DIR": str(tmp_path),
        "EVBILL_OCPP_SECURITY_PROFILE": "0",
        "EVBILL_AUTO_REGISTER_STATIONS": "true",
        "EVBILL_API_HOST": "127.0.0.1",
        "EVBILL_API_PORT": str(api_port),
    }
    env.pop("EVBILL_DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "evbill", "serve", "--port", "0", "--api" if api else "--no-api"],
        stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        url = None
        for _ in range(200):  # the listening line names the URL with the real port
            line = await asyncio.to_thread(proc.stderr.readline)
            if match := re.search(r"url=(ws://\S+?)/\{station_id\}", line):
                url = match.group(1)
                break
        assert url is not None, "serve never said where it listens"
        async with connect(f"{url}/CS-SERVE", subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
            cp_answer = await exchange(
                ws,
                [2, "b", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}],
            )
            assert cp_answer[2]["status"] == "Accepted"
            assert await _api_answers(api_port) is api  # --no-api: `evbill api` serves it
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(ws.wait_closed(), 10)
            assert ws.close_code == 1001  # going away
        assert await asyncio.to_thread(proc.wait, 20) == 0
        assert (tmp_path / "evbill.sqlite3").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def _api_answers(port: int) -> bool:
    """Whether the API answers on `port` (it starts beside the gateway; give it a moment)."""
    for _ in range(100):
        try:
            async with httpx.AsyncClient() as http:
                r = await http.get(f"http://127.0.0.1:{port}/openapi.json")
            return r.status_code == 200
        except httpx.ConnectError:
            await asyncio.sleep(0.05)
    return False


async def test_a_slow_service_call_does_not_stall_other_stations(
    gateway: Gateway, sessions: FakeSessions
) -> None:
    sessions.hold = threading.Event()
    async with (
        raw(gateway, "slow-1", "ocpp1.6") as slow,
        station(gateway, "fast-1", "ocpp1.6") as fast,
    ):
        await slow.send('[2, "h", "Heartbeat", {}]')  # blocks in the service until released
        await asyncio.sleep(0.05)
        for _ in range(5):
            answer = await asyncio.wait_for(fast.call(call16.Heartbeat()), 2)
            assert answer.current_time
        assert ("heartbeat", "slow-1") not in sessions.commands
        sessions.hold.set()
        answer = await asyncio.wait_for(slow.recv(), 5)
        assert '"currentTime"' in answer
    assert ("heartbeat", "slow-1") in sessions.commands
