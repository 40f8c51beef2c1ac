"""The OCPP gateway (CSMS side): WebSocket server, handshake checks, the station registry.

`ws(s)://HOST:PORT/ocpp/{station_id}` with subprotocol `ocpp2.1`, `ocpp2.0.1` or `ocpp1.6`.
The handshake answers 404 for other paths, 401 when the station fails its security
profile, 429 (with Retry-After) once an address or station id has failed too often
(`ocpp.throttle`), 400 when it offers none of our subprotocols. One asyncio task per station, the
synchronous session service on a small thread pool, operator commands from Python
(`remote_start`/`remote_stop`) or, across processes, from the `station_commands` outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import socket
import ssl
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from evbill.ocpp.auth import (
    SecurityProfile,
    StaticCredentials,
    StationAuthenticator,
    StationCredentials,
)
from evbill.ocpp.errors import StationNotConnected
from evbill.ocpp.outbox import CommandOutbox, OutboxWorker
from evbill.ocpp.rpc import (
    DataTransferRoutes,
    RemoteCommandResult,
    ServiceBridge,
    StationConnection,
)
from evbill.ocpp.throttle import HandshakeThrottle
from evbill.ocpp.v16 import V16Station
from evbill.ocpp.v21 import V21Station
from evbill.ocpp.v201 import V201Station
from evbill.sessions.commands import IdToken, SessionCommands

__all__ = ["ADAPTERS", "Gateway", "GatewayConfig", "run_gateway"]

log = logging.getLogger("evbill.ocpp")
T = TypeVar("T")

ADAPTERS: dict[str, type[StationConnection]] = {
    cls.protocol: cls for cls in (V21Station, V201Station, V16Station)
}
_MAX_STATION_ID = 64


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    host: str = "127.0.0.1"
    port: int = 9000  # 0: an ephemeral port (tests)
    path_prefix: str = "/ocpp"
    protocols: tuple[str, ...] = ("ocpp2.1", "ocpp2.0.1", "ocpp1.6")
    security_profile: SecurityProfile = SecurityProfile.BASIC
    call_timeout_s: float = 30.0
    command_poll_interval_s: float = 0.5
    ping_interval_s: float | None = 60.0
    ping_timeout_s: float | None = 60.0
    service_workers: int = 8
    meter_values_batch: int = 500  # group commit: most MeterValues written per transaction
    validate_answers: bool = False  # schema-check our own answers too (tests, debugging)
    auth_failures_per_address: int = 20  # failed handshakes per window before 429
    auth_failures_per_station: int = 10  # … per station id (for addresses that failed)
    auth_failure_window_s: float = 60.0
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_ca_file: Path | None = None  # client certificates (security profile 3)

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> GatewayConfig:
        """The gateway's knobs from `evbill.config.Settings`."""
        values: dict[str, Any] = {
            "host": settings.ocpp_host,
            "port": settings.ocpp_port,
            "path_prefix": settings.ocpp_path_prefix,
            "protocols": tuple(settings.ocpp_protocols),
            "security_profile": SecurityProfile(settings.ocpp_security_profile),
            "call_timeout_s": settings.ocpp_call_timeout,
            "command_poll_interval_s": settings.ocpp_command_poll_interval,
            "tls_cert_file": settings.tls_cert_file,
            "tls_key_file": settings.tls_key_file,
            "tls_ca_file": settings.tls_ca_file,
        }
        values.update(overrides)
        return cls(**values)

    @property
    def tls(self) -> bool:
        return self.tls_cert_file is not None and self.tls_key_file is not None

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.tls:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(self.tls_cert_file), str(self.tls_key_file))
        if self.tls_ca_file is not None:
            context.load_verify_locations(str(self.tls_ca_file))
            context.verify_mode = ssl.CERT_OPTIONAL  # profile 3 is per station
        return context


def _client_cert_cn(connection: ServerConnection) -> str | None:
    cert = connection.transport.get_extra_info("peercert") if connection.transport else None
    for rdn in (cert or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None


class Gateway:
    """The CSMS WebSocket server; `async with Gateway(config, service) as gateway: …`."""

    def __init__(
        self,
        config: GatewayConfig,
        service: SessionCommands,
        *,
        credentials: StationCredentials | None = None,
        outbox: CommandOutbox | None = None,
        data_transfer: DataTransferRoutes | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.config = config
        self._executor = ThreadPoolExecutor(config.service_workers, thread_name_prefix="evbill-svc")
        self._bridge = ServiceBridge(service, self._executor, clock,
                                     max_batch=config.meter_values_batch)  # fmt: skip
        self._auth = StationAuthenticator(
            credentials or StaticCredentials(), config.security_profile
        )
        self._throttle = HandshakeThrottle(per_address=config.auth_failures_per_address,
                                           per_station=config.auth_failures_per_station,
                                           window_s=config.auth_failure_window_s)
        self._data_transfer = data_transfer
        self._stations: dict[str, StationConnection] = {}
        self._connected: dict[str, asyncio.Event] = {}
        self._server: Server | None = None
        self._remote_start_ids = itertools.count(int(self._bridge.now().timestamp()) % 10**6 * 1000)
        self.name = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._outbox_worker = (
            OutboxWorker(
                outbox,
                self,
                name=self.name,
                interval_s=config.command_poll_interval_s,
                run_blocking=self._blocking,
                clock=self._bridge.now,
            )
            if outbox is not None
            else None
        )
        self._outbox_task: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        cfg = self.config
        self._server = await serve(
            self._handle,
            cfg.host,
            cfg.port,
            subprotocols=list(cfg.protocols),  # type: ignore[arg-type]
            process_request=self._process_request,
            ssl=cfg.ssl_context(),
            compression=None,  # stations rarely negotiate it; it costs memory per socket
            ping_interval=cfg.ping_interval_s,
            ping_timeout=cfg.ping_timeout_s,
            max_size=2**20,
            logger=logging.getLogger("evbill.ocpp.ws"),
        )
        if self._outbox_worker is not None:
            self._outbox_task = asyncio.create_task(self._outbox_worker.run())
        scheme = "wss" if cfg.tls else "ws"
        log.info(
            "ocpp.listening url=%s://%s:%d%s/{station_id} protocols=%s security_profile=%d",
            scheme, cfg.host, self.port, cfg.path_prefix, ",".join(cfg.protocols),
            cfg.security_profile,
        )  # fmt: skip

    async def stop(self) -> None:
        """Close every socket (1001), wait for the handlers, then for in-flight commits."""
        if self._outbox_task is not None:
            self._outbox_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._outbox_task
        if self._outbox_worker is not None:
            await self._outbox_worker.drain()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        await self._bridge.meter_values_batcher.drain()
        self._executor.shutdown(wait=True)
        log.info("ocpp.stopped")

    async def __aenter__(self) -> Gateway:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("port: the gateway is not started")
        return int(next(iter(self._server.sockets)).getsockname()[1])

    def url(self, station_id: str) -> str:
        scheme = "wss" if self.config.tls else "ws"
        return f"{scheme}://{self.config.host}:{self.port}{self.config.path_prefix}/{station_id}"

    # --- registry ----------------------------------------------------------------------------

    def connected_station_ids(self) -> list[str]:
        return list(self._stations)

    def is_connected(self, station_id: str) -> bool:
        return station_id in self._stations

    async def wait_connected(self, station_id: str, timeout: float = 5.0) -> None:
        event = self._connected.setdefault(station_id, asyncio.Event())
        await asyncio.wait_for(event.wait(), timeout)

    def station(self, station_id: str) -> StationConnection:
        try:
            return self._stations[station_id]
        except KeyError:
            raise StationNotConnected(station_id) from None

    # --- operator commands -------------------------------------------------------------------

    async def remote_start(
        self, station_id: str, evse_id: int, id_token: IdToken | str
    ) -> RemoteCommandResult:
        """Ask the station to start a transaction; returns its answer (Accepted/Rejected)."""
        token = IdToken(id_token) if isinstance(id_token, str) else id_token
        return await self.station(station_id).remote_start(
            evse_id, token, next(self._remote_start_ids) % 2**31
        )

    async def remote_stop(self, station_id: str, transaction_id: str) -> RemoteCommandResult:
        """Ask the station to stop a transaction; returns its answer (Accepted/Rejected)."""
        return await self.station(station_id).remote_stop(transaction_id)

    # --- handshake ---------------------------------------------------------------------------

    def _station_id(self, path: str) -> str | None:
        prefix = self.config.path_prefix.rstrip("/") + "/"
        raw = path.split("?", 1)[0]
        if not raw.startswith(prefix):
            return None
        station_id = unquote(raw[len(prefix) :])
        if not 0 < len(station_id) <= _MAX_STATION_ID or "/" in station_id:
            return None
        return station_id if station_id.isprintable() else None

    async def _process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        station_id = self._station_id(request.path)
        if station_id is None:
            return connection.respond(HTTPStatus.NOT_FOUND, "Not Found\n")
        address = str(connection.remote_address[0]) if connection.remote_address else "-"
        throttled = self._throttle.check(address, station_id)
        if not throttled.allowed:  # answered here, in the loop: no store read, no thread
            log.warning("ocpp.auth_throttled station=%s remote=%s reason=%s",
                        station_id, address, throttled.reason)
            response = connection.respond(HTTPStatus.TOO_MANY_REQUESTS,
                                          f"Too Many Requests: {throttled.reason}\n")
            response.headers["Retry-After"] = str(throttled.retry_after_s)
            return response
        decision = await self._blocking(
            lambda: self._auth.authenticate(
                station_id,
                request.headers.get("Authorization"),
                tls=self.config.tls,
                client_cert_cn=_client_cert_cn(connection),
            )
        )
        if decision.accepted:
            self._throttle.succeeded(address, station_id)
            return None
        log.warning(
            "ocpp.auth_refused station=%s profile=%d reason=%s remote=%s",
            station_id, decision.profile, decision.reason, connection.remote_address,
        )  # fmt: skip
        response = connection.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
        response.headers["WWW-Authenticate"] = 'Basic realm="evbill OCPP", charset="UTF-8"'
        return response

    # --- connections -------------------------------------------------------------------------

    async def _handle(self, connection: ServerConnection) -> None:
        assert connection.request is not None  # the handshake is done
        station_id = self._station_id(connection.request.path)
        adapter = ADAPTERS.get(connection.subprotocol or "")
        if station_id is None or adapter is None:  # the handshake rules make this unreachable
            await connection.close(1002, "no OCPP subprotocol")
            return
        station = adapter(
            station_id,
            connection,
            self._bridge,
            call_timeout=self.config.call_timeout_s,
            data_transfer=self._data_transfer,
            validate_answers=self.config.validate_answers,
        )
        await self._register(station)
        try:
            await station.start()
        except ConnectionClosed as closed:
            log.info("ocpp.connection_lost station=%s code=%s", station_id, closed.rcvd)
        finally:
            await self._unregister(station)

    async def _register(self, station: StationConnection) -> None:
        old = self._stations.get(station.station_id)
        self._stations[station.station_id] = station
        if old is not None:  # a reconnect: the new socket wins; the old one may be dead
            log.info("ocpp.replaced_connection station=%s", station.station_id)
            closing = asyncio.create_task(old.websocket.close(1000, "replaced by a new connection"))
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)
        log.info(
            "ocpp.connected station=%s protocol=%s stations=%d",
            station.station_id, station.protocol, len(self._stations),
        )  # fmt: skip
        await self._notify(self._bridge.service.station_connected, station.station_id)
        self._connected.setdefault(station.station_id, asyncio.Event()).set()

    async def _unregister(self, station: StationConnection) -> None:
        if self._stations.get(station.station_id) is not station:
            return  # replaced: the new connection owns the registry entry
        del self._stations[station.station_id]
        self._connected.pop(station.station_id, None)
        log.info("ocpp.disconnected station=%s", station.station_id)
        await self._notify(self._bridge.service.station_disconnected, station.station_id)

    async def _notify(self, method: Callable[[str, datetime], None], station_id: str) -> None:
        try:
            await self._blocking(lambda: method(station_id, self._bridge.now()))
        except Exception:
            log.exception("ocpp.presence_failed station=%s", station_id)

    async def _blocking(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)


async def run_gateway(
    settings: Any,
    service: SessionCommands,
    *,
    db: Any = None,
    stop: asyncio.Event | None = None,
    on_started: Callable[[Gateway], None] | None = None,
) -> None:
    """Run a gateway from `Settings` until `stop` is set (or the task is cancelled).

    With a store `Database`, station passwords come from its stations and operator
    commands from its `station_commands` outbox.
    """
    credentials: StationCredentials | None = None
    outbox: CommandOutbox | None = None
    if db is not None:
        from evbill.ocpp.auth import StoreCredentials
        from evbill.store.outbox import StationCommandOutbox

        credentials, outbox = StoreCredentials(db), StationCommandOutbox(db)
    gateway = Gateway(
        GatewayConfig.from_settings(settings), service, credentials=credentials, outbox=outbox
    )
    async with gateway:
        if on_started is not None:
            on_started(gateway)
        await (stop or asyncio.Event()).wait()
