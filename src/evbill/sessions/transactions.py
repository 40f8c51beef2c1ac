"""Start, meter values and stop, each applied inside one unit of work (no commit here).

Sessions are rebuilt from timestamps: a message may arrive late, twice, or before the one
that logically precedes it. A stop or samples for a transaction nobody started create the
session (flagged); a start that arrives later fills it in.

A start the token or the connector refuses keeps its row (the station needs its transaction
id, and the audit its story) in the `refused` state, never rated or billed. A 1.6 stop or
samples naming a transaction id evbill issued to another station change nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from evbill.accounts.credentials import credential_key
from evbill.config import Settings
from evbill.sessions.commands import (
    AuthorizationResult,
    AuthorizationStatus,
    IdToken,
    IdTokenType,
    MeterReading,
    ReadingContext,
    RecordMeterValues,
    StartResult,
    StartSession,
    StopResult,
    StopSession,
    TransactionEventRecorded,
)
from evbill.sessions.finish import finish_session
from evbill.sessions.gaps import note_activity, track_seq
from evbill.sessions.lookup import authorize_token, require_station
from evbill.sessions.recording import (
    add_flag,
    charging_of,
    clear_flags,
    record_readings,
    refuse,
)
from evbill.sessions.state import SessionFlag, SessionState, state_for_charging, transition
from evbill.sessions.timeline import in_span
from evbill.store.tables import SessionRow, StationRow
from evbill.store.uow import UnitOfWork

__all__ = ["apply_meter_values", "apply_start", "apply_stop"]

_OPEN = (SessionState.PENDING, SessionState.CHARGING, SessionState.SUSPENDED,
         SessionState.PARKED)  # fmt: skip


def _new_session(
    uow: UnitOfWork, station: StationRow, evse_id: int, connector_id: int,
    transaction_id: str | None, started_at: datetime, now: datetime,
) -> SessionRow:  # fmt: skip
    row = uow.sessions.add(SessionRow(
        station_id=station.id, evse_id=evse_id, connector_id=connector_id,
        transaction_id=transaction_id, state=SessionState.PENDING.value,
        started_at=started_at, energy_wh=Decimal(0), energy_source="meter",
        time_zone=station.time_zone, start_received=False, stop_received=False, flags=[],
        created_at=now, updated_at=now,
    ))  # fmt: skip
    uow.flush()
    if transaction_id is None:  # 1.6: we issue the integer transactionId
        candidate = row.id
        while uow.sessions.by_transaction(station.id, str(candidate)) is not None:
            candidate += 1  # a station-made id (stop without start) took this number
        row.transaction_id = str(candidate)
        uow.flush()
    return row


def _set_token(row: SessionRow, token: IdToken | None, auth: AuthorizationResult) -> None:
    if token is not None and token.type is not IdTokenType.NO_AUTHORIZATION:
        # recorded under its credential key, the value history and billing look it up by
        row.id_token, row.id_token_type = credential_key(token.value, token.type), token.type.value
    row.authorization_status = auth.status.value
    if auth.status is not AuthorizationStatus.ACCEPTED:
        add_flag(row, SessionFlag.AUTHORIZATION_REJECTED,
                 f"token {auth.status.value}: {auth.reason or ''}".rstrip(": "))  # fmt: skip
        refuse(row)


def _connector_known(uow: UnitOfWork, station: StationRow, evse_id: int) -> bool:
    """A station's EVSE is known if it was registered or the station reported its status;
    a station with neither (auto-registered, no status yet) is taken at its word."""
    if evse_id == 0 and station.protocol not in (None, "ocpp1.6"):
        return True  # 2.x: the first event did not name its EVSE; the station knows it
    known = {e.evse_id for e in uow.stations.evses(station.id)}
    known |= {c.evse_id for c in uow.stations.connectors(station.id)}
    return not known or evse_id in known


def _issued_elsewhere(uow: UnitOfWork, station: StationRow, transaction_id: str | None) -> bool:
    """A 1.6 transaction id evbill issued to another station (ids are ours, station-wide
    unique); 2.x ids are the stations' own, so the same id elsewhere means nothing."""
    if transaction_id is None or station.protocol not in (None, "ocpp1.6"):
        return False
    if not transaction_id.isdigit():
        return False
    other = uow.session.scalar(select(SessionRow.station_id).where(
        SessionRow.transaction_id == transaction_id, SessionRow.station_id != station.id,
        SessionRow.start_received.is_(True)).limit(1))  # fmt: skip
    return other is not None


def _silence(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.session_silence)


def _boundary(value: Decimal | None, at: datetime, context: ReadingContext) -> MeterReading | None:
    return None if value is None else MeterReading(at=at, energy_wh=value, context=context)


def apply_start(
    uow: UnitOfWork, cmd: StartSession, now: datetime, settings: Settings
) -> StartResult:
    station = require_station(uow, cmd.station_id)
    auth = authorize_token(uow, cmd.id_token, cmd.started_at, settings)
    row = None
    if cmd.transaction_ref is not None:
        row = uow.sessions.by_transaction(station.id, cmd.transaction_ref, for_update=True)
    if row is None:
        row = _new_session(uow, station, cmd.evse_id, cmd.connector_id, cmd.transaction_ref,
                           cmd.started_at, now)  # fmt: skip
    elif row.start_received:  # the same transaction started twice under different keys
        return StartResult(row.transaction_id or "", auth)
    row.evse_id, row.connector_id, row.started_at = cmd.evse_id, cmd.connector_id, cmd.started_at
    if cmd.meter_start_wh is not None:
        row.meter_start_wh = cmd.meter_start_wh
    row.reservation_id = cmd.reservation_id
    row.start_received, row.updated_at = True, now
    clear_flags(row, (SessionFlag.START_MISSING, SessionFlag.STOP_WITHOUT_START))
    track_seq(row, cmd.seq_no)
    if not _connector_known(uow, station, cmd.evse_id):
        auth = AuthorizationResult(AuthorizationStatus.INVALID,
                                   reason=f"unknown connector {cmd.evse_id}")
        add_flag(row, SessionFlag.UNKNOWN_CONNECTOR,
                 f"station {station.id} has no EVSE/connector {cmd.evse_id}")
    _set_token(row, cmd.id_token, auth)
    begin = _boundary(cmd.meter_start_wh, cmd.started_at, ReadingContext.TRANSACTION_BEGIN)
    readings = (*cmd.readings, *([begin] if begin else []))
    record_readings(uow, row, station.id, cmd.evse_id, readings,
                    charging_of(cmd.charging_state), now)  # fmt: skip
    uow.flush()
    uow.sessions.adopt_orphan_samples(row)
    if row.state == SessionState.REFUSED:
        if row.stop_received:
            finish_session(uow, row, now, settings)  # record the energy, bill nothing
    elif SessionState(row.state) in _OPEN:
        last, seq = row.last_seq_no, cmd.seq_no
        stale = seq is not None and last is not None and seq < last
        if not stale:  # updates sent before the start (out of order) already set the state
            target = state_for_charging(cmd.charging_state) if cmd.charging_state else None
            row.state = transition(SessionState(row.state), target or SessionState.CHARGING).value
            row.last_seq_no = cmd.seq_no
    else:  # the stop came first: now that the start is known, rate again
        uow.flush()
        finish_session(uow, row, now, settings)
    return StartResult(row.transaction_id or "", auth)


def _session_for_samples(
    uow: UnitOfWork, station: StationRow, cmd: RecordMeterValues, now: datetime
) -> SessionRow | None:
    if cmd.transaction_id is None:
        first = min((r.at for r in cmd.readings), default=None)
        return None if first is None else uow.sessions.covering(station.id, cmd.evse_id, first)
    row = uow.sessions.by_transaction(station.id, cmd.transaction_id, for_update=True)
    if row is None:  # samples before (or without) the start: keep them in a placeholder
        first = min((r.at for r in cmd.readings), default=now)
        row = _new_session(uow, station, cmd.evse_id, 0, cmd.transaction_id, first, now)
        add_flag(row, SessionFlag.START_MISSING, "meter values before any start")
    elif not row.start_received:
        row.started_at = min([row.started_at, *(r.at for r in cmd.readings)])
    return row


def apply_meter_values(
    uow: UnitOfWork, cmd: RecordMeterValues, now: datetime, settings: Settings
) -> TransactionEventRecorded:
    station = require_station(uow, cmd.station_id)
    if _issued_elsewhere(uow, station, cmd.transaction_id) and \
            uow.sessions.by_transaction(station.id, cmd.transaction_id or "") is None:
        return TransactionEventRecorded(cmd.transaction_id or "")  # not this station's
    row = _session_for_samples(uow, station, cmd, now)
    if row is not None and SessionState(row.state) in _OPEN:
        note_activity(row, now, _silence(settings))
    added = record_readings(uow, row, station.id, cmd.evse_id, cmd.readings,
                            charging_of(cmd.charging_state), now)  # fmt: skip
    if row is None:
        return TransactionEventRecorded(cmd.transaction_id or "")
    row.updated_at = now
    track_seq(row, cmd.seq_no)
    state = SessionState(row.state)
    newest = cmd.seq_no is None or row.last_seq_no is None or cmd.seq_no > row.last_seq_no
    if state in _OPEN and cmd.charging_state is not None and newest:
        target = state_for_charging(cmd.charging_state)
        if target is not None:
            row.state = transition(state, target).value
        row.last_seq_no = cmd.seq_no if cmd.seq_no is not None else row.last_seq_no
    elif state not in _OPEN and any(in_span(at, row.started_at, row.stopped_at) for at in added):
        uow.flush()
        finish_session(uow, row, now, settings)  # late samples inside the span: rate again
    return _event_answer(uow, row)


def _event_answer(uow: UnitOfWork, row: SessionRow) -> TransactionEventRecorded:
    cdr = uow.cdrs.for_session(row.id) if row.state == SessionState.RATED else None
    if cdr is None:
        return TransactionEventRecorded(row.transaction_id or "")
    return TransactionEventRecorded(row.transaction_id or "", None,
                                    cdr.total_cost_incl_vat, cdr.currency)  # fmt: skip


def apply_stop(uow: UnitOfWork, cmd: StopSession, now: datetime, settings: Settings) -> StopResult:
    station = require_station(uow, cmd.station_id)
    row = uow.sessions.by_transaction(station.id, cmd.transaction_id, for_update=True)
    started_at = min([cmd.stopped_at, *(r.at for r in cmd.readings)])
    if row is None and _issued_elsewhere(uow, station, cmd.transaction_id):
        return StopResult(cmd.transaction_id)  # another station's transaction: nothing changes
    if row is None:
        row = _new_session(uow, station, cmd.evse_id or 0, cmd.connector_id or 0,
                           cmd.transaction_id, started_at, now)  # fmt: skip
        row.meter_start_wh = cmd.meter_start_wh
        add_flag(row, SessionFlag.STOP_WITHOUT_START,
                 "stop received for a transaction that never started")  # fmt: skip
    elif not row.start_received:  # a placeholder made from samples
        row.started_at = min(row.started_at, started_at)
        row.meter_start_wh = row.meter_start_wh or cmd.meter_start_wh
        clear_flags(row, (SessionFlag.START_MISSING,))
        add_flag(row, SessionFlag.STOP_WITHOUT_START,
                 "stop received for a transaction that never started")  # fmt: skip
    auth = None
    if cmd.id_token is not None:
        auth = authorize_token(uow, cmd.id_token, cmd.stopped_at, settings)
    if row.stop_received:  # already stopped under another key (e.g. a different seqNo)
        track_seq(row, cmd.seq_no)
        return StopResult(row.transaction_id or "", auth)
    if SessionState(row.state) in _OPEN and row.start_received:
        note_activity(row, now, _silence(settings))
    track_seq(row, cmd.seq_no)
    clear_flags(row, (SessionFlag.CLOSED_BY_REBOOT,))  # the real stop came after all
    row.stopped_at, row.meter_stop_wh = cmd.stopped_at, cmd.meter_stop_wh
    row.stop_reason, row.stop_received = cmd.reason, True
    end = _boundary(cmd.meter_stop_wh, cmd.stopped_at, ReadingContext.TRANSACTION_END)
    start = _boundary(cmd.meter_start_wh if not row.start_received else None, row.started_at,
                      ReadingContext.TRANSACTION_BEGIN)  # fmt: skip
    readings = (*cmd.readings, *([end] if end else []), *([start] if start else []))
    record_readings(uow, row, station.id, row.evse_id, readings, None, now)
    uow.flush()
    finish_session(uow, row, now, settings)
    return StopResult(row.transaction_id or "", auth)
