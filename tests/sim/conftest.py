"""A minimal central system built with the `ocpp` library, to test the simulator against.

It checks HTTP Basic auth, records every CALL a station sends (raw JSON), issues 1.6
transaction ids (the same id for a re-sent StartTransaction) and can start/stop remotely.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v16 import ChargePoint as Cp16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as res16
from ocpp.v21 import ChargePoint as Cp21
from ocpp.v21 import call as call21
from ocpp.v21 import call_result as res21
from ocpp.v201 import ChargePoint as Cp201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as res201
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

PASSWORD = "s3cret-station-pw"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class Recorded:
    station_id: str
    action: str
    payload: dict[str, Any]


@dataclass
class CsmsState:
    calls: list[Recorded] = field(default_factory=list)
    started16: dict[tuple[Any, ...], int] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    blocked: set[str] = field(default_factory=set)
    connections: dict[str, Any] = field(default_factory=dict)

    def actions(self, station_id: str) -> list[str]:
        return [c.action for c in self.calls if c.station_id == station_id]

    def of(self, station_id: str, action: str) -> list[dict[str, Any]]:
        return [c.payload for c in self.calls
                if c.station_id == station_id and c.action == action]


class _Recording:
    """Wraps the server connection to record the raw CALLs the station sends."""

    def __init__(self, ws: ServerConnection, station_id: str, state: CsmsState) -> None:
        self._ws, self._id, self._state = ws, station_id, state

    async def recv(self) -> str:
        raw = await self._ws.recv()
        msg = json.loads(raw)
        if msg[0] == 2:
            self._state.calls.append(Recorded(self._id, msg[2], msg[3]))
        return str(raw)

    async def send(self, message: str) -> None:
        await self._ws.send(message)


def _status(state: CsmsState, token: str) -> str:
    return "Blocked" if token in state.blocked else "Accepted"


class Csms16(Cp16):
    state: CsmsState

    @on("BootNotification")
    def on_boot(self, **_: Any) -> Any:
        return res16.BootNotification(current_time=_now(), interval=300, status="Accepted")

    @on("Heartbeat")
    def on_heartbeat(self) -> Any:
        return res16.Heartbeat(current_time=_now())

    @on("StatusNotification")
    def on_status(self, **_: Any) -> Any:
        return res16.StatusNotification()

    @on("Authorize")
    def on_authorize(self, id_tag: str) -> Any:
        return res16.Authorize(id_tag_info={"status": _status(self.state, id_tag)})

    @on("StartTransaction")
    def on_start(self, connector_id: int, id_tag: str, meter_start: int, timestamp: str,
              **_: Any) -> Any:
        key = (self.id, connector_id, id_tag, meter_start, timestamp)
        tx = self.state.started16.setdefault(key, next(self.state.ids))
        return res16.StartTransaction(transaction_id=tx,
                                      id_tag_info={"status": _status(self.state, id_tag)})

    @on("MeterValues")
    def on_meter(self, **_: Any) -> Any:
        return res16.MeterValues()

    @on("StopTransaction")
    def on_stop(self, **_: Any) -> Any:
        return res16.StopTransaction()


def _v2_class(base: Any, res: Any) -> type[Any]:
    class Csms2(base):  # type: ignore[misc, valid-type]
        state: CsmsState

        @on("BootNotification")
        def on_boot(self, **_: Any) -> Any:
            return res.BootNotification(current_time=_now(), interval=300, status="Accepted")

        @on("Heartbeat")
        def on_heartbeat(self) -> Any:
            return res.Heartbeat(current_time=_now())

        @on("StatusNotification")
        def on_status(self, **_: Any) -> Any:
            return res.StatusNotification()

        @on("Authorize")
        def on_authorize(self, id_token: dict[str, Any], **_: Any) -> Any:
            return res.Authorize(
                id_token_info={"status": _status(self.state, id_token["id_token"])})

        @on("TransactionEvent")
        def on_event(self, id_token: dict[str, Any] | None = None, **_: Any) -> Any:
            if id_token is None:
                return res.TransactionEvent()
            return res.TransactionEvent(
                id_token_info={"status": _status(self.state, id_token["id_token"])})

    return Csms2


_CLASSES = {"ocpp1.6": Csms16, "ocpp2.0.1": _v2_class(Cp201, res201),
            "ocpp2.1": _v2_class(Cp21, res21)}


class MinimalCsms:
    """The central system; `url` is ws://127.0.0.1:<port>/ocpp."""

    def __init__(self) -> None:
        self.state = CsmsState()
        self.password = PASSWORD
        self.url = ""
        self._server: Any = None
        self.auth_failures = 0

    def _check_auth(self, conn: ServerConnection, request: Request) -> Response | None:
        station_id = request.path.rsplit("/", 1)[-1]
        expected = "Basic " + base64.b64encode(f"{station_id}:{PASSWORD}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            self.auth_failures += 1
            return conn.respond(HTTPStatus.UNAUTHORIZED, "bad credentials\n")
        return None

    async def _handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        station_id = ws.request.path.rsplit("/", 1)[-1]
        cp = _CLASSES[str(ws.subprotocol)](station_id, _Recording(ws, station_id, self.state))
        cp.state = self.state
        self.state.connections[station_id] = (cp, ws)
        with contextlib.suppress(ConnectionClosed):  # the station went away
            await cp.start()

    async def start(self) -> None:
        self._server = await serve(self._handler, "127.0.0.1", 0,
                                   subprotocols=list(_CLASSES),  # type: ignore[arg-type]
                                   process_request=self._check_auth)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/ocpp"

    async def stop(self) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def remote_start(self, station_id: str, id_tag: str, remote_start_id: int = 7) -> str:
        cp, ws = self.state.connections[station_id]
        if ws.subprotocol == "ocpp1.6":
            reply = await cp.call(call16.RemoteStartTransaction(id_tag=id_tag, connector_id=1))
        else:
            module = call201 if ws.subprotocol == "ocpp2.0.1" else call21
            reply = await cp.call(module.RequestStartTransaction(
                id_token={"idToken": id_tag, "type": "Central"},
                remote_start_id=remote_start_id, evse_id=1))
        return str(reply.status)

    async def remote_stop(self, station_id: str, transaction_id: str) -> str:
        cp, ws = self.state.connections[station_id]
        if ws.subprotocol == "ocpp1.6":
            reply = await cp.call(call16.RemoteStopTransaction(transaction_id=int(transaction_id)))
        else:
            module = call201 if ws.subprotocol == "ocpp2.0.1" else call21
            reply = await cp.call(module.RequestStopTransaction(transaction_id=transaction_id))
        return str(reply.status)

    async def kick(self, station_id: str) -> None:
        """Close the station's connection from the server side (a network cut)."""
        _, ws = self.state.connections[station_id]
        await ws.close()


@pytest.fixture
async def csms() -> AsyncIterator[MinimalCsms]:
    server = MinimalCsms()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()

