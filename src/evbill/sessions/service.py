"""`SessionService`: what the OCPP gateway calls. One method = one unit of work, committed once
before it answers; commands that can arrive twice answer the second time with the first answer.

Exactly once: a command's dedup key is inserted (and flushed) first in its transaction. A
concurrent twin blocks on that primary key, fails with IntegrityError when the first
commits, and then reads the stored answer. Nothing is answered before it is committed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError, OperationalError

from evbill.clock import utc_now
from evbill.config import Settings, get_settings
from evbill.sessions import codec
from evbill.sessions.batch import BatchOutcome, record_meter_values_batch
from evbill.sessions.commands import (
    AuthorizationResult,
    AuthorizationStatus,
    Authorize,
    BootResult,
    BootStation,
    ConnectorStatusChanged,
    RecordMeterValues,
    SessionDetail,
    SessionView,
    StartResult,
    StartSession,
    StopResult,
    StopSession,
    TransactionEventRecorded,
)
from evbill.sessions.hooks import (
    NoHooks,
    SessionHooks,
    SettlementRecorded,
    StationSettlement,
    notify_event,
    refuse_start,
)
from evbill.sessions.lookup import SessionError, UnknownStation, authorize_token
from evbill.sessions.reboot import close_on_reboot
from evbill.sessions.state import SessionState, can_transition
from evbill.sessions.transactions import apply_meter_values, apply_start, apply_stop
from evbill.sessions.views import session_detail, session_view
from evbill.store.database import Database
from evbill.store.tables import StationRow
from evbill.store.uow import UnitOfWork

__all__ = ["SessionError", "SessionService", "UnknownStation", "utc_now"]

log = logging.getLogger(__name__)
T = TypeVar("T")

_ATTEMPTS = 5
#: 1.6 StatusNotification statuses that say what the EV is doing in an open session.
_STATUS_STATES = {
    "Charging": SessionState.CHARGING,
    "SuspendedEV": SessionState.SUSPENDED,
    "SuspendedEVSE": SessionState.SUSPENDED,
}


class SessionService:
    """Implements `evbill.sessions.commands.SessionCommands` on a `Database`."""

    def __init__(
        self,
        db: Database,
        settings: Settings | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
        hooks: SessionHooks | None = None,
    ) -> None:
        self._db = db
        self._settings = settings or get_settings()
        self._clock = clock
        self._hooks: SessionHooks = hooks or NoHooks()

    # --- exactly once -------------------------------------------------------------------
    def _once(
        self,
        key: str,
        kind: str,
        station_id: str,
        work: Callable[[UnitOfWork, datetime], T],
        encode: Callable[[T], dict[str, Any]],
        decode: Callable[[dict[str, Any]], T],
    ) -> T:
        for attempt in range(1, _ATTEMPTS + 1):
            with UnitOfWork(self._db) as uow:
                stored = uow.commands.get(key)
                if stored is not None and stored.answer is not None:
                    log.info("session.duplicate kind=%s station_id=%s key=%s",
                             kind, station_id, key)  # fmt: skip
                    return decode(stored.answer)
                now = self._clock()
                try:
                    claim = uow.commands.claim(key, kind, station_id, now)
                    answer = work(uow, now)
                    uow.commands.set_answer(claim, encode(answer))
                    uow.commit()
                    return answer
                except (IntegrityError, OperationalError) as exc:
                    # A twin committed first (unique key) or SQLite was busy: look again.
                    uow.rollback()
                    log.info("session.retry kind=%s key=%s attempt=%d error=%s",
                             kind, key, attempt, exc.__class__.__name__)  # fmt: skip
                    if attempt == _ATTEMPTS:
                        raise
        raise AssertionError("unreachable")

    # --- station lifecycle --------------------------------------------------------------
    def boot(self, cmd: BootStation) -> BootResult:
        interval = self._settings.heartbeat_interval
        for attempt in (1, 2):
            with UnitOfWork(self._db) as uow:
                now = self._clock()
                station = uow.stations.get(cmd.station_id, for_update=True)
                if station is None and not self._settings.auto_register_stations:
                    log.warning("station.boot_rejected station_id=%s", cmd.station_id)
                    return BootResult(False, interval, now, reason="unknown station")
                if station is None:
                    station = uow.stations.add(StationRow(
                        id=cmd.station_id, time_zone=self._settings.default_timezone,
                        auto_registered=True, connected=True, created_at=now,
                    ))  # fmt: skip
                station.protocol, station.vendor, station.model = (
                    cmd.protocol, cmd.vendor, cmd.model)  # fmt: skip
                station.serial_number = cmd.serial_number
                station.firmware_version = cmd.firmware_version
                station.booted_at, station.last_seen_at, station.connected = cmd.at, now, True
                closed = close_on_reboot(uow, station, now, self._settings) \
                    if cmd.protocol == "ocpp1.6" else []
                try:
                    uow.commit()
                except IntegrityError:  # two boots of a new station at once: the other won
                    if attempt == 2:
                        raise
                    continue
                log.info("station.booted station_id=%s protocol=%s vendor=%s model=%s",
                         cmd.station_id, cmd.protocol, cmd.vendor, cmd.model)  # fmt: skip
                for transaction_id in closed:
                    notify_event(self._hooks, cmd.station_id, transaction_id)
                return BootResult(True, interval, now)
        raise AssertionError("unreachable")

    def heartbeat(self, station_id: str, at: datetime) -> datetime:
        with UnitOfWork(self._db) as uow:
            now = self._clock()
            station = uow.stations.get(station_id)
            if station is not None:
                station.last_seen_at = now
                uow.commit()
            return now

    def station_connected(self, station_id: str, at: datetime) -> None:
        self._set_connected(station_id, at, connected=True)

    def station_disconnected(self, station_id: str, at: datetime) -> None:
        # Open sessions stay open: the station keeps charging offline and reports later.
        self._set_connected(station_id, at, connected=False)

    def _set_connected(self, station_id: str, at: datetime, *, connected: bool) -> None:
        with UnitOfWork(self._db) as uow:
            station = uow.stations.get(station_id)
            if station is None:
                return
            station.connected, station.last_seen_at = connected, at
            if connected:
                station.connected_at = at
            uow.commit()
        log.info("station.%s station_id=%s", "connected" if connected else "disconnected",
                 station_id)  # fmt: skip

    def connector_status(self, cmd: ConnectorStatusChanged) -> None:
        with UnitOfWork(self._db) as uow:
            if uow.stations.get(cmd.station_id) is None:
                raise UnknownStation(f"station_id: station {cmd.station_id!r} is not registered")
            connector = uow.stations.ensure_connector(cmd.station_id, cmd.evse_id,
                                                      cmd.connector_id)  # fmt: skip
            if connector.status_at is not None and connector.status_at > cmd.at:
                return  # an older status delivered late: the newer one stands
            connector.status, connector.error_code = cmd.status, cmd.error_code
            connector.status_at = cmd.at
            self._status_to_session(uow, cmd)
            uow.commit()

    @staticmethod
    def _status_to_session(uow: UnitOfWork, cmd: ConnectorStatusChanged) -> None:
        target = _STATUS_STATES.get(cmd.status)
        if target is None:
            return
        for row in uow.sessions.open_sessions(cmd.station_id):
            state = SessionState(row.state)
            on_evse = row.evse_id == cmd.evse_id and row.started_at <= cmd.at
            if on_evse and can_transition(state, target):
                row.state = target.value

    # --- authorization and transactions ---------------------------------------------------
    def authorize(self, cmd: Authorize) -> AuthorizationResult:
        with UnitOfWork(self._db, read_only=True) as uow:
            result = authorize_token(uow, cmd.id_token, cmd.at, self._settings)
        if result.status is AuthorizationStatus.ACCEPTED:
            result = self._hooks.check_authorize(cmd, result)
        log.info("token.authorize station_id=%s type=%s status=%s", cmd.station_id,
                 cmd.id_token.type.value, result.status.value)  # fmt: skip
        return result

    def start(self, cmd: StartSession) -> StartResult:
        refusal = self._payment_check(cmd)

        def work(uow: UnitOfWork, now: datetime) -> StartResult:
            result = apply_start(uow, cmd, now, self._settings)
            return result if refusal is None else refuse_start(uow, cmd.station_id, result,
                                                               refusal)

        answer = self._once(cmd.dedup_key, "start", cmd.station_id, work, codec.encode_start,
                            codec.decode_start)  # fmt: skip
        notify_event(self._hooks, cmd.station_id, answer.transaction_id)
        return answer

    def _payment_check(self, cmd: StartSession) -> AuthorizationResult | None:
        """The payment hook's refusal of an otherwise Accepted start, or None."""
        if isinstance(self._hooks, NoHooks):
            return None
        with UnitOfWork(self._db, read_only=True) as uow:
            if uow.commands.get(cmd.dedup_key) is not None:
                return None  # a repeat: `_once` answers it with the first answer
            auth = authorize_token(uow, cmd.id_token, cmd.started_at, self._settings)
        if auth.status is not AuthorizationStatus.ACCEPTED:
            return None
        checked = self._hooks.check_start(cmd, auth)
        return None if checked.status is AuthorizationStatus.ACCEPTED else checked

    def meter_values(self, cmd: RecordMeterValues) -> TransactionEventRecorded:
        answer = self._record_meter_values(cmd)
        notify_event(self._hooks, cmd.station_id, answer.transaction_id)
        return answer

    def _record_meter_values(self, cmd: RecordMeterValues) -> TransactionEventRecorded:
        return self._once(
            cmd.dedup_key, "meter_values", cmd.station_id,
            lambda uow, now: apply_meter_values(uow, cmd, now, self._settings),
            codec.encode_event, codec.decode_event,
        )  # fmt: skip

    def meter_values_batch(
        self, cmds: Sequence[RecordMeterValues], *, notify: bool = True
    ) -> list[BatchOutcome]:
        """`meter_values` for many commands in one transaction (group commit, see
        `evbill.sessions.batch`): one outcome per command, in order, each committed.
        `notify=False` leaves the hooks to `notify_meter_values` (the gateway runs them
        while the next batch is written)."""
        outcomes = record_meter_values_batch(self._db, cmds, self._clock,
                                             self._record_meter_values,
                                             self._settings)  # fmt: skip
        if notify:
            self.notify_meter_values(cmds, outcomes)
        return outcomes

    def notify_meter_values(
        self, cmds: Sequence[RecordMeterValues], outcomes: Sequence[BatchOutcome]
    ) -> None:
        """Tell the hooks about each committed command of a batch (as `meter_values` does)."""
        for cmd, outcome in zip(cmds, outcomes, strict=True):
            if isinstance(outcome, TransactionEventRecorded):
                notify_event(self._hooks, cmd.station_id, outcome.transaction_id)

    def stop(self, cmd: StopSession) -> StopResult:
        answer = self._once(
            cmd.dedup_key, "stop", cmd.station_id,
            lambda uow, now: apply_stop(uow, cmd, now, self._settings),
            codec.encode_stop, codec.decode_stop,
        )  # fmt: skip
        notify_event(self._hooks, cmd.station_id, answer.transaction_id)
        return answer

    def record_settlement(self, cmd: StationSettlement) -> SettlementRecorded:
        """A station-terminal payment (OCPP 2.1 NotifySettlement), handed to the hooks."""
        return self._hooks.record_settlement(cmd)

    # --- read models ----------------------------------------------------------------------
    def list_sessions(
        self,
        *,
        station_id: str | None = None,
        states: tuple[str, ...] = (),
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[SessionView]:
        with UnitOfWork(self._db, read_only=True) as uow:
            rows = uow.sessions.list(station_id=station_id, states=states, since=since,
                                     until=until, limit=limit)  # fmt: skip
            return [session_view(row, uow.cdrs.for_session(row.id)) for row in rows]

    def get_session(self, session_id: int) -> SessionDetail | None:
        with UnitOfWork(self._db, read_only=True) as uow:
            row = uow.sessions.get(session_id)
            return None if row is None else session_detail(uow, row)

    def find_session(self, station_id: str, transaction_id: str) -> SessionDetail | None:
        with UnitOfWork(self._db, read_only=True) as uow:
            row = uow.sessions.by_transaction(station_id, transaction_id)
            return None if row is None else session_detail(uow, row)

