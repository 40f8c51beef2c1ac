"""A simulated charging station: one OCPP WebSocket connection, an ordered outbox, EVSEs.

Transaction messages go through an outbox that survives disconnection: while the station is
offline they queue with their original timestamps and are sent in order once it is back, and
a message leaves the outbox only when the CSMS acknowledged it (at-least-once, as real
stations do). The charging itself lives in `evbill.sim.charging`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import websockets
from ocpp.exceptions import OCPPError
from websockets.asyncio.client import ClientConnection, connect
from websockets.headers import build_authorization_basic

from evbill.sim.client import RemoteControl, client_for
from evbill.sim.clock import Clock
from evbill.sim.curves import AC_11KW, Charger
from evbill.sim.dialects import ConnectorState, Dialect, dialect_for
from evbill.sim.signing import MeterSigner

__all__ = ["Offline", "SimStation", "StationConfig", "StationStats"]

log = logging.getLogger("evbill.sim.station")


class Offline(ConnectionError):
    """The station has no open connection to the CSMS."""


@dataclass(frozen=True, slots=True)
class StationConfig:
    """Who the station is and what it has."""

    station_id: str
    password: str | None = None
    protocol: str = "1.6"
    vendor: str = "evbill-sim"
    model: str = "SimCharger"
    charger: Charger = AC_11KW
    evses: int = 1
    meter_interval_s: int = 60
    register_start_wh: int = 0
    response_timeout_s: float = 30.0
    reconnect_delay_s: float = 0.2  # real seconds between reconnect attempts
    decimal_wh: bool = False  # samples in Wh with two decimals (meterStop stays whole Wh)


@dataclass(slots=True)
class StationStats:
    """Message counters; a fleet shares one instance between all its stations."""

    sent: int = 0
    acknowledged: int = 0
    call_errors: int = 0
    queued_offline: int = 0
    reconnects: int = 0


@dataclass(slots=True)
class _Pending:
    """One outbox entry: builds its payload when sent (1.6 ids become known late)."""

    build: Callable[[], Any]
    on_reply: Callable[[Any], None] | None
    payload: Any = None  # built once, then re-sent unchanged after a lost answer
    done: asyncio.Future[Any] = field(default_factory=lambda: asyncio.get_running_loop()
                                      .create_future())


class SimStation:
    """One simulated station connected (or not) to a CSMS at `url`/`station_id`."""

    def __init__(self, config: StationConfig, url: str, clock: Clock, *,
                 signer: MeterSigner | None = None, stats: StationStats | None = None) -> None:
        self.config = config
        self.url = f"{url.rstrip('/')}/{config.station_id}"
        self.clock = clock
        self.signer = signer
        self.stats = stats if stats is not None else StationStats()
        self.dialect: Dialect = dialect_for(config.protocol)
        # The meters' import registers, exact, in joules (W·s); reported as whole Wh.
        self.registers_j: dict[int, Decimal] = {
            evse: Decimal(config.register_start_wh * 3600) for evse in range(1, config.evses + 1)
        }
        self.sent_payloads: list[Any] = []  # every CALL sent, in order (tests re-send them)
        self.remote_handler: RemoteControl | None = None  # a charging.SessionRunner
        self._ws: ClientConnection | None = None
        self._cp: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._outbox: deque[_Pending] = deque()
        self._send_lock = asyncio.Lock()
        self._want_online = False
        self._reconnector: asyncio.Task[None] | None = None

    # --- connection ----------------------------------------------------------------------
    @property
    def online(self) -> bool:
        return self._reader is not None and not self._reader.done()

    @property
    def outbox_size(self) -> int:
        return len(self._outbox)

    async def connect(self) -> None:
        """Open the WebSocket (Basic auth, OCPP subprotocol) and deliver the queued messages."""
        headers = {}
        if self.config.password is not None:
            headers["Authorization"] = build_authorization_basic(
                self.config.station_id, self.config.password)
        ws = await connect(self.url, subprotocols=[self.dialect.subprotocol],  # type: ignore[list-item]
                           additional_headers=headers, open_timeout=10, max_queue=64)
        if ws.subprotocol != self.dialect.subprotocol:
            await ws.close()
            raise ConnectionRefusedError(
                f"subprotocol: CSMS chose {ws.subprotocol!r}, station speaks "
                f"{self.dialect.subprotocol}")
        self._ws = ws
        self._cp = client_for(self.dialect.version, self.config.station_id, ws,
                              self,
                              self.config.response_timeout_s)
        self._reader = asyncio.create_task(self._read(self._cp))
        self._want_online = True
        log.debug("sim.connected station_id=%s", self.config.station_id)
        await self.flush()

    async def _read(self, cp: Any) -> None:
        try:
            await cp.start()
        except (websockets.ConnectionClosed, OSError):
            pass
        except Exception:  # a reader that dies must not leave a half-open station behind
            log.exception("sim.reader_failed station_id=%s", self.config.station_id)
            await cp._connection.close()
        if self._want_online and self._reconnector is None:
            self._reconnector = asyncio.create_task(self._reconnect_loop())

    async def _reconnect_loop(self) -> None:
        """After an unplanned loss, try to reconnect (in real time) until it works."""
        try:
            while self._want_online and not self.online:
                try:
                    await self.connect()
                    self.stats.reconnects += 1
                except (OSError, websockets.InvalidHandshake, TimeoutError):
                    await asyncio.sleep(self.config.reconnect_delay_s)
        finally:
            self._reconnector = None

    async def go_offline(self) -> None:
        """Close the socket on purpose; transaction messages queue until `connect`."""
        self._want_online = False
        if self._reconnector is not None:
            self._reconnector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconnector
        await self._close_socket()

    async def drop(self) -> None:
        """Lose the connection unexpectedly; the station reconnects by itself."""
        if self._ws is not None:
            await self._ws.close()

    async def _close_socket(self) -> None:
        ws, reader = self._ws, self._reader
        self._ws = None
        if ws is not None:
            await ws.close()
        if reader is not None:
            await asyncio.gather(reader, return_exceptions=True)

    async def close(self) -> None:
        """Disconnect for good (end of simulation)."""
        await self.go_offline()

    async def wait_online(self, timeout: float) -> None:
        """Wait (real time) until the station is connected again."""
        async with asyncio.timeout(timeout):
            while not self.online:
                await asyncio.sleep(0.02)

    async def come_online(self) -> None:
        """Reconnect after a planned offline period; keep trying in the background if refused."""
        try:
            await self.connect()
        except (OSError, websockets.InvalidHandshake, TimeoutError):
            self._want_online = True
            if self._reconnector is None:
                self._reconnector = asyncio.create_task(self._reconnect_loop())

    # --- the CSMS's remote start/stop, delegated to the session runner -------------------
    def remote_start(self, id_tag: str, id_token_type: str, evse_id: int | None,
                     remote_start_id: int | None) -> bool:
        if self.remote_handler is None:
            return False
        return self.remote_handler.remote_start(id_tag, id_token_type, evse_id,
                                                remote_start_id)

    def remote_stop(self, transaction_id: str) -> bool:
        if self.remote_handler is None:
            return False
        return self.remote_handler.remote_stop(transaction_id)

    # --- sending -------------------------------------------------------------------------
    async def _call_once(self, payload: Any) -> Any:
        """Send one CALL and wait for its answer, or raise Offline if the socket goes."""
        cp, reader = self._cp, self._reader
        if cp is None or reader is None or reader.done():
            raise Offline(f"station {self.config.station_id} is offline")
        self.stats.sent += 1
        self.sent_payloads.append(payload)
        call = asyncio.ensure_future(cp.call(payload, suppress=False))
        done, _ = await asyncio.wait({call, reader}, return_when=asyncio.FIRST_COMPLETED)
        if call in done:
            try:
                reply = call.result()
            except (websockets.ConnectionClosed, OSError, TimeoutError):
                await self.drop()
                raise Offline(f"station {self.config.station_id}: connection lost") from None
            self.stats.acknowledged += 1
            return reply
        call.cancel()
        with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
            await call
        raise Offline(f"station {self.config.station_id}: connection lost awaiting answer")

    async def call(self, payload: Any) -> Any:
        """Send a CALL now (no queueing): Boot, Heartbeat, Authorize, Status, re-sends."""
        async with self._send_lock:
            try:
                return await self._call_once(payload)
            except OCPPError:
                self.stats.call_errors += 1
                raise

    async def boot(self) -> str:
        c = self.config
        reply = await self.call(self.dialect.boot(c.vendor, c.model, f"SIM-{c.station_id}",
                                                  "1.0"))
        return str(reply.status)

    async def heartbeat(self) -> None:
        await self.call(self.dialect.heartbeat())

    async def status(self, evse_id: int, state: ConnectorState) -> None:
        """Report connector status if online (status is not queued; stations resend on boot)."""
        if self.online:
            with contextlib.suppress(Offline):
                await self.call(self.dialect.status(evse_id, 1, state, self.clock.now()))

    def enqueue(self, build: Callable[[], Any],
                on_reply: Callable[[Any], None] | None = None) -> asyncio.Future[Any]:
        """Queue a transaction message; the future resolves with the CSMS's answer."""
        item = _Pending(build, on_reply)
        self._outbox.append(item)
        if not self.online:
            self.stats.queued_offline += 1
        return item.done

    def reorder_outbox(self, order: list[int]) -> None:
        """Deliver queued messages in another order (`order` lists outbox positions).

        Simulates stations that send their backlog out of order after a reconnect.
        """
        if sorted(order) != list(range(len(self._outbox))):
            raise ValueError(f"order: {order} is not a permutation of the "
                             f"{len(self._outbox)} queued messages")
        items = list(self._outbox)
        self._outbox = deque(items[i] for i in order)

    async def flush(self) -> None:
        """Send queued messages in order while connected; each leaves the queue when acked."""
        async with self._send_lock:
            while self._outbox and self.online:
                item = self._outbox[0]
                try:
                    if item.payload is None:
                        item.payload = item.build()
                    reply = await self._call_once(item.payload)
                except Offline:
                    return
                except (OCPPError, LookupError) as exc:
                    # A refused message will be refused again: report it and move on.
                    self.stats.call_errors += 1
                    log.warning("sim.call_error station_id=%s error=%s",
                                self.config.station_id, type(exc).__name__)
                    self._outbox.popleft()
                    item.done.set_exception(exc)
                    item.done.exception()  # retrieved: the caller may not await it
                    continue
                self._outbox.popleft()
                if item.on_reply is not None:
                    item.on_reply(reply)
                item.done.set_result(reply)

    async def send(self, build: Callable[[], Any],
                   on_reply: Callable[[Any], None] | None = None) -> asyncio.Future[Any]:
        """Queue a transaction message and deliver the outbox if connected."""
        done = self.enqueue(build, on_reply)
        await self.flush()
        return done
