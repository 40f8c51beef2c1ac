"""An in-memory `SessionCommands` for the gateway tests (a test double, not the product)."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from evbill.sessions.commands import (
    AuthorizationResult,
    AuthorizationStatus,
    Authorize,
    BootResult,
    BootStation,
    ConnectorStatusChanged,
    RecordMeterValues,
    StartResult,
    StartSession,
    StopResult,
    StopSession,
    TransactionEventRecorded,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class FakeSessions:
    """Records every command; answers from small tables the tests set up."""

    known_stations: set[str] | None = None  # None: every station is accepted at boot
    token_status: dict[str, AuthorizationStatus] = field(default_factory=dict)
    commands: list[Any] = field(default_factory=list)
    presence: list[tuple[str, str]] = field(default_factory=list)
    fail_on: set[str] = field(default_factory=set)  # method names that raise
    hold: threading.Event | None = None  # when set up, `heartbeat` of "slow-*" waits for it
    _tx: Any = field(default_factory=lambda: itertools.count(1001))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _record(self, name: str, cmd: Any) -> None:
        if name in self.fail_on:
            raise RuntimeError(f"{name} failed on purpose")
        with self._lock:
            self.commands.append(cmd)

    def of(self, kind: type) -> list[Any]:
        return [c for c in self.commands if isinstance(c, kind)]

    def _auth(self, token: str | None) -> AuthorizationResult:
        status = self.token_status.get(token or "", AuthorizationStatus.ACCEPTED)
        return AuthorizationResult(status, group_id="GROUP-1" if token else None)

    def boot(self, cmd: BootStation) -> BootResult:
        self._record("boot", cmd)
        ok = self.known_stations is None or cmd.station_id in self.known_stations
        return BootResult(ok, 300, NOW, None if ok else "station is not registered")

    def heartbeat(self, station_id: str, at: datetime) -> datetime:
        if station_id.startswith("slow-") and self.hold is not None:
            self.hold.wait(5)
        self._record("heartbeat", ("heartbeat", station_id))
        return NOW

    def connector_status(self, cmd: ConnectorStatusChanged) -> None:
        self._record("connector_status", cmd)

    def authorize(self, cmd: Authorize) -> AuthorizationResult:
        self._record("authorize", cmd)
        return self._auth(cmd.id_token.value)

    def start(self, cmd: StartSession) -> StartResult:
        self._record("start", cmd)
        tx = cmd.transaction_ref or str(next(self._tx))
        return StartResult(tx, self._auth(cmd.id_token.value if cmd.id_token else None))

    def meter_values(self, cmd: RecordMeterValues) -> TransactionEventRecorded:
        self._record("meter_values", cmd)
        return TransactionEventRecorded(cmd.transaction_id or "", None, Decimal("4.56"), "EUR")

    def stop(self, cmd: StopSession) -> StopResult:
        self._record("stop", cmd)
        return StopResult(
            cmd.transaction_id, self._auth(cmd.id_token.value) if cmd.id_token else None
        )

    def station_connected(self, station_id: str, at: datetime) -> None:
        with self._lock:
            self.presence.append(("connected", station_id))

    def station_disconnected(self, station_id: str, at: datetime) -> None:
        with self._lock:
            self.presence.append(("disconnected", station_id))
