"""Gateway test kit: config for an ephemeral port, `ocpp`-library stations, raw frames."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint as Cp16
from ocpp.v16 import call_result as result16
from ocpp.v21 import ChargePoint as Cp21
from ocpp.v21 import call_result as result21
from ocpp.v201 import ChargePoint as Cp201
from ocpp.v201 import call_result as result201
from websockets.asyncio.client import ClientConnection, connect

from evbill.ocpp.auth import SecurityProfile
from evbill.ocpp.server import Gateway, GatewayConfig

PROTOCOLS = ("ocpp1.6", "ocpp2.0.1", "ocpp2.1")
V2 = ("ocpp2.0.1", "ocpp2.1")


class Station16(Cp16):
    received: list[tuple[str, dict[str, Any]]]

    @on("RemoteStartTransaction")
    def on_remote_start(self, id_tag: str, **kw: Any) -> Any:
        self.received.append(("RemoteStartTransaction", {"id_tag": id_tag, **kw}))
        return result16.RemoteStartTransaction("Rejected" if id_tag == "REJECT" else "Accepted")

    @on("RemoteStopTransaction")
    def on_remote_stop(self, transaction_id: int) -> Any:
        self.received.append(("RemoteStopTransaction", {"transaction_id": transaction_id}))
        return result16.RemoteStopTransaction("Accepted")


def _v2_station(base: type, results: Any) -> type:
    class Station(base):  # type: ignore[misc, valid-type]
        received: list[tuple[str, dict[str, Any]]]

        @on("RequestStartTransaction")
        def on_request_start(self, id_token: dict[str, Any], **kw: Any) -> Any:
            self.received.append(("RequestStartTransaction", {"id_token": id_token, **kw}))
            if id_token["id_token"] == "REJECT":
                return results.RequestStartTransaction("Rejected")
            return results.RequestStartTransaction("Accepted", transaction_id="TX-REMOTE")

        @on("RequestStopTransaction")
        def on_request_stop(self, transaction_id: str, **kw: Any) -> Any:
            self.received.append(("RequestStopTransaction", {"transaction_id": transaction_id}))
            return results.RequestStopTransaction("Accepted")

    return Station


STATIONS: dict[str, type] = {
    "ocpp1.6": Station16,
    "ocpp2.0.1": _v2_station(Cp201, result201),
    "ocpp2.1": _v2_station(Cp21, result21),
}


def gateway_config(**overrides: Any) -> GatewayConfig:
    values: dict[str, Any] = {
        "port": 0,
        "security_profile": SecurityProfile.NONE,
        "command_poll_interval_s": 0.05,
        "ping_interval_s": None,
        "call_timeout_s": 5.0,
        "validate_answers": True,
    }
    values.update(overrides)
    return GatewayConfig(**values)


@contextlib.asynccontextmanager
async def station(
    gw: Gateway, station_id: str, protocol: str, **connect_kw: Any
) -> AsyncIterator[Any]:
    """An `ocpp`-library station of `protocol`, connected and receiving."""
    ws = await connect(gw.url(station_id), subprotocols=[protocol], **connect_kw)  # type: ignore[list-item]
    cp = STATIONS[protocol](station_id, ws, response_timeout=5)
    cp.received = []
    task = asyncio.create_task(cp.start())
    try:
        await gw.wait_connected(station_id)
        yield cp
    finally:
        task.cancel()
        await ws.close()
        with contextlib.suppress(BaseException):
            await task


@contextlib.asynccontextmanager
async def raw(gw: Gateway, station_id: str, protocol: str) -> AsyncIterator[ClientConnection]:
    async with connect(gw.url(station_id), subprotocols=[protocol]) as ws:  # type: ignore[list-item]
        yield ws


async def exchange(ws: ClientConnection, frame: Any) -> Any:
    """Send a frame (a string is sent verbatim) and return the decoded answer."""
    await ws.send(frame if isinstance(frame, str | bytes) else json.dumps(frame))
    return json.loads(await asyncio.wait_for(ws.recv(), 5))
