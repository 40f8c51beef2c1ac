"""Messages lost when `evbill serve` is killed with SIGKILL are noticed, not billed over.

The gateway runs as a real subprocess on the test database; the station speaks raw OCPP
frames over a real socket (with its password), so each case is exactly the sequence a
station sent: a 2.0.1 Ended lost with the gateway and never resent, after which the station
goes on with later seqNo numbers and ends again minutes later (held for review); a 1.6
station that loses power with the gateway and boots again (its open transaction closed at
the last reading and flagged).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import subprocess
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from e2e_world import PASSWORD, T0, TOKEN, register
from test_gateway_crash import _free_port, _serve
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from evbill.sessions.commands import SessionDetail
from evbill.sessions.service import SessionService
from evbill.store.database import Database

pytestmark = pytest.mark.e2e

STATION = "E2E-1"


def ts(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


@contextlib.asynccontextmanager
async def _station(port: int, protocol: str) -> AsyncIterator[ClientConnection]:
    auth = base64.b64encode(f"{STATION}:{PASSWORD}".encode()).decode()
    async with connect(f"ws://127.0.0.1:{port}/ocpp/{STATION}",
                       subprotocols=[protocol],  # type: ignore[list-item]
                       additional_headers={"Authorization": f"Basic {auth}"}) as ws:
        yield ws


class Frames:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws, self.n = ws, 0

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.n += 1
        await self.ws.send(json.dumps([2, f"k{self.n}", action, payload]))
        answer = json.loads(await asyncio.wait_for(self.ws.recv(), 10))
        assert answer[0] == 3 and answer[1] == f"k{self.n}", answer
        result: dict[str, Any] = answer[2]
        return result


def _event(kind: str, seq: int, minutes: float, wh: str, **kw: Any) -> dict[str, Any]:
    context = {"Started": "Transaction.Begin", "Ended": "Transaction.End"}.get(
        kind, "Sample.Periodic")
    return {"eventType": kind, "timestamp": ts(minutes), "seqNo": seq,
            "triggerReason": {"Started": "Authorized", "Updated": "MeterValuePeriodic"}.get(
                kind, "StopAuthorized"),
            "transactionInfo": {"transactionId": "KILL-1", **kw.pop("info", {})},
            "meterValue": [{"timestamp": ts(minutes), "sampledValue": [
                {"value": float(wh), "context": context}]}], **kw}


def _detail(db: Database, transaction_id: str) -> SessionDetail:
    detail = SessionService(db).find_session(STATION, transaction_id)
    assert detail is not None
    return detail


async def _kill(server: subprocess.Popen[bytes]) -> None:
    os.kill(server.pid, signal.SIGKILL)
    server.wait()


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()


async def test_an_ended_lost_at_sigkill_holds_the_session_for_review(
        database_url: str, tmp_path: Path) -> None:
    db = Database.open(database_url)
    register(db, [STATION])
    port = _free_port()
    server = await _serve(database_url, port, tmp_path)
    try:
        async with _station(port, "ocpp2.0.1") as ws:
            f = Frames(ws)
            await f.call("BootNotification", {"chargingStation": {"model": "M",
                                                                  "vendorName": "V"},
                                              "reason": "PowerUp"})
            await f.call("TransactionEvent", _event(
                "Started", 0, 0, "10000", evse={"id": 1, "connectorId": 1},
                idToken={"idToken": TOKEN, "type": "ISO14443"},
                info={"chargingState": "Charging"}))
            await f.call("TransactionEvent", _event("Updated", 1, 1, "10040"))
            await _kill(server)
            # the Ended (seqNo 2, 75.64 Wh) is in flight as the gateway dies: lost for good
            with contextlib.suppress(ConnectionClosed, OSError, TimeoutError):
                await ws.send(json.dumps([2, "lost", "TransactionEvent", _event(
                    "Ended", 2, 2, "10075.64", info={"stoppedReason": "Local"})]))
                await asyncio.wait_for(ws.recv(), 2)
        server = await _serve(database_url, port, tmp_path)
        async with _station(port, "ocpp2.0.1") as ws:
            f = Frames(ws)
            for seq in (3, 4, 5):  # the station goes on with Updated events
                await f.call("TransactionEvent", _event("Updated", seq, seq, "10075.64"))
            assert "seq_gap" in _detail(db, "KILL-1").session.flags
            await f.call("TransactionEvent", _event("Ended", 6, 9, "10504",
                                                    info={"stoppedReason": "Local"}))
        detail = _detail(db, "KILL-1")
        assert detail.session.state == "held", detail.session.flags
        assert detail.cdr is None  # not billed 504 Wh on a later message's word
        assert "seqNo 2 never arrived" in (detail.session.hold_reason or "")
    finally:
        _stop(server)
        db.dispose()


async def test_a_1_6_station_rebooting_after_sigkill_gets_its_open_session_closed(
        database_url: str, tmp_path: Path) -> None:
    db = Database.open(database_url)
    register(db, [STATION])
    port = _free_port()
    server = await _serve(database_url, port, tmp_path)
    boot = {"chargePointVendor": "V", "chargePointModel": "M"}
    try:
        async with _station(port, "ocpp1.6") as ws:
            f = Frames(ws)
            await f.call("BootNotification", boot)
            started = await f.call("StartTransaction", {"connectorId": 1, "idTag": TOKEN,
                                                        "meterStart": 10_000,
                                                        "timestamp": ts(0)})
            tx = started["transactionId"]
            await f.call("MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": [
                {"timestamp": ts(10), "sampledValue": [{"value": "12000.5", "unit": "Wh"}]}]})
            await _kill(server)  # a power cut: the gateway and the station go down together
        server = await _serve(database_url, port, tmp_path)
        async with _station(port, "ocpp1.6") as ws:
            await Frames(ws).call("BootNotification", boot)
        detail = _detail(db, str(tx))
        assert "closed_by_reboot" in detail.session.flags
        assert detail.session.state == "rated"  # billed from what was measured, never more
        assert detail.session.stopped_at == T0 + timedelta(minutes=10)
        assert detail.session.energy_wh == Decimal("2000.5")
        assert detail.cdr is not None and detail.cdr.total_energy_wh == Decimal("2000.5")
    finally:
        _stop(server)
        db.dispose()
