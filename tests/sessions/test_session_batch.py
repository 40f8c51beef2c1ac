"""Group commit of MeterValues: one transaction, one outcome per command, same result as one by
one (fast lane and slow lane), duplicates and failures inside a batch, a failed COMMIT."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from session_builders import STATION, at, energy, start_cmd, stop_cmd
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from evbill.accounts.stations import StationRegistry
from evbill.sessions import batch as batch_module
from evbill.sessions import fastlane
from evbill.sessions.commands import (
    ChargingState,
    MeterReading,
    RecordMeterValues,
    SignedReading,
    TransactionEventRecorded,
)
from evbill.sessions.fastlane import fast_candidates
from evbill.sessions.hooks import NoHooks
from evbill.sessions.lookup import UnknownStation
from evbill.sessions.service import SessionService
from evbill.store import Database
from evbill.store.tables import (
    MeterSampleRow,
    ProcessedCommandRow,
    SessionRow,
    SignedMeterDataRow,
)


def mv(tx: str | None, *readings: MeterReading, evse_id: int = 1, **kw: Any) -> RecordMeterValues:
    return RecordMeterValues(STATION, evse_id, tx, readings, **kw)


def _samples(db: Database) -> list[tuple[Any, ...]]:
    with db.read_sessions() as s:
        rows = s.scalars(select(MeterSampleRow).order_by(MeterSampleRow.id))
        return [(r.session_id, r.at, r.context, r.energy_wh, r.charging) for r in rows]


def _sessions(db: Database) -> list[tuple[Any, ...]]:
    with db.read_sessions() as s:
        rows = s.scalars(select(SessionRow).order_by(SessionRow.id))
        return [(r.transaction_id, r.state, r.last_seq_no, r.started_at, r.stopped_at,
                 sorted(r.flags or []), r.updated_at) for r in rows]  # fmt: skip


def _keys(db: Database) -> list[tuple[str, Any]]:
    with db.read_sessions() as s:
        rows = s.scalars(select(ProcessedCommandRow).where(
            ProcessedCommandRow.kind == "meter_values").order_by(ProcessedCommandRow.key))
        return [(r.key, r.answer) for r in rows]  # fmt: skip


def test_fast_lane_batch_records_like_one_by_one(service: SessionService, db: Database) -> None:
    tx = service.start(start_cmd()).transaction_id
    cmds = [mv(tx, energy(10, "102"), energy(20, "104")), mv(tx, energy(30, "106"))]
    candidates, slow = fast_candidates(cmds)
    assert (candidates, slow) == ([0], [1])  # the station's second command keeps its turn
    outcomes = service.meter_values_batch(cmds)
    assert outcomes == [TransactionEventRecorded(tx), TransactionEventRecorded(tx)]
    assert [(s[1], s[3]) for s in _samples(db)] == [
        (at(0), 100_000), (at(10), 102_000), (at(20), 104_000), (at(30), 106_000)]  # fmt: skip
    assert len(_keys(db)) == 2
    # Sent again (a station retrying after a lost answer): the stored answers, nothing new.
    assert service.meter_values_batch(cmds) == outcomes
    assert len(_samples(db)) == 4 and len(_keys(db)) == 2


def test_duplicates_inside_one_batch_are_recorded_once(
    service: SessionService, db: Database
) -> None:
    tx = service.start(start_cmd()).transaction_id
    cmd = mv(tx, energy(10, "102"))
    outcomes = service.meter_values_batch([cmd, cmd, cmd])
    assert outcomes == [TransactionEventRecorded(tx)] * 3
    assert len(_samples(db)) == 2  # the start's reading and this one
    assert len(_keys(db)) == 1


def test_a_failing_command_does_not_fail_or_lose_the_others(
    service: SessionService, db: Database
) -> None:
    tx = service.start(start_cmd()).transaction_id
    stranger = RecordMeterValues("CS-UNKNOWN", 1, "77", (energy(5, "1"),))
    good = [mv(tx, energy(10, "102")), mv(tx, energy(20, "104"))]
    outcomes = service.meter_values_batch([good[0], stranger, good[1]])
    assert isinstance(outcomes[1], UnknownStation)
    assert outcomes[0] == outcomes[2] == TransactionEventRecorded(tx)
    assert [s[1] for s in _samples(db)] == [at(0), at(10), at(20)]
    assert all(not key.startswith("CS-UNKNOWN") for key, _ in _keys(db))


def test_commands_of_one_station_apply_in_arrival_order(
    service: SessionService, db: Database
) -> None:
    tx = service.start(start_cmd()).transaction_id
    suspended = mv(tx, energy(10, "102"), charging_state=ChargingState.SUSPENDED_EV)
    charging = mv(tx, energy(20, "103"), charging_state=ChargingState.CHARGING)
    service.meter_values_batch([suspended, charging])
    assert _sessions(db)[0][1] == "charging"
    service.meter_values_batch([
        mv(tx, energy(30, "104"), charging_state=ChargingState.CHARGING),
        mv(tx, energy(40, "104"), charging_state=ChargingState.SUSPENDED_EV),
    ])  # fmt: skip
    assert _sessions(db)[0][1] == "suspended"


def _world(service: SessionService, station_id: str) -> None:
    """Two sessions on `station_id`: T-A running on EVSE 1, T-B on EVSE 2 already stopped."""
    service.start(start_cmd(station_id=station_id, transaction_ref="T-A"))
    service.start(start_cmd(station_id=station_id, evse_id=2, transaction_ref="T-B",
                            started_at=at(1)))  # fmt: skip
    service.stop(stop_cmd("T-B", station_id=station_id, stopped_at=at(30)))


def _mixed(sid: str) -> list[RecordMeterValues]:
    """Both lanes: running session with seqNo and charging states, an orphan sample, a
    placeholder before its start, signed data, late values inside a stopped session, a
    repeat, a command of an unknown station."""
    signed = MeterReading(at(13), Decimal(103_500), signed=SignedReading("OCMF|{}|{}"))
    return [
        RecordMeterValues(sid, 1, "T-A", (energy(10, "102"),), ChargingState.CHARGING, 3),
        RecordMeterValues(sid, 1, None, (energy(15, "103"),)),
        RecordMeterValues(sid, 2, "T-P", (energy(5, "300"),)),
        RecordMeterValues(sid, 1, "T-A", (energy(20, "104"),), ChargingState.SUSPENDED_EV, 2),
        RecordMeterValues(sid, 1, "T-A", (signed,)),
        RecordMeterValues(sid, 2, "T-B", (energy(20, "105"), energy(20, "106"))),
        RecordMeterValues(sid, 1, "T-A", (energy(10, "102"),), ChargingState.CHARGING, 3),
        RecordMeterValues("CS-NOBODY", 1, "T-A", (energy(10, "1"),)),
    ]  # fmt: skip


def _snapshot(db: Database, station_id: str) -> tuple[list[Any], ...]:
    with db.read_sessions() as s:
        rows = s.scalars(select(SessionRow).where(SessionRow.station_id == station_id)
                         .order_by(SessionRow.transaction_id)).all()  # fmt: skip
        sessions = [(r.transaction_id, r.state, r.last_seq_no, r.started_at, r.stopped_at,
                     sorted(r.flags or []), r.updated_at, r.energy_wh) for r in rows]  # fmt: skip
        tx = {r.id: r.transaction_id for r in rows}
        samples = sorted(
            (str(tx.get(r.session_id)), r.at, r.context, r.energy_wh, r.charging)
            for r in s.scalars(
                select(MeterSampleRow).where(MeterSampleRow.station_id == station_id))
        )  # fmt: skip
        keys = sorted((r.key.split("|", 1)[1], r.kind, r.answer) for r in s.scalars(
            select(ProcessedCommandRow).where(ProcessedCommandRow.station_id == station_id)))
        signed = sorted((tx[r.session_id], r.at, r.digest) for r in s.scalars(
            select(SignedMeterDataRow).where(SignedMeterDataRow.session_id.in_(tx))))
    return sessions, samples, keys, signed


def test_batch_leaves_the_same_database_as_one_by_one(
    service: SessionService, db: Database
) -> None:
    StationRegistry(db).add("CS-TWIN", time_zone="Europe/Berlin", now=at(-60), evses=2)
    _world(service, STATION)
    _world(service, "CS-TWIN")
    batched = service.meter_values_batch(_mixed(STATION))
    one_by_one: list[Any] = []
    for cmd in _mixed("CS-TWIN"):
        try:
            one_by_one.append(service.meter_values(cmd))
        except UnknownStation as exc:
            one_by_one.append(exc)
    assert [type(o) for o in batched] == [type(o) for o in one_by_one]
    assert isinstance(batched[-1], UnknownStation)
    assert batched[:-1] == one_by_one[:-1]
    assert _snapshot(db, STATION) == _snapshot(db, "CS-TWIN")
    sessions, samples, _, signed = _snapshot(db, STATION)
    assert [(t, state, seq) for t, state, seq, *_ in sessions] == [
        ("T-A", "charging", 3), ("T-B", "rated", None), ("T-P", "pending", None)]  # fmt: skip
    assert ("T-B", at(20), "Sample.Periodic", 105_000, None) in samples
    assert len(signed) == 1


def test_a_failed_commit_retries_every_command_alone(
    service: SessionService, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    tx = service.start(start_cmd()).transaction_id
    real_commit = batch_module.UnitOfWork.commit
    calls = {"n": 0}

    def commit_fails_once(self: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("COMMIT", {}, Exception("disk I/O error"))
        real_commit(self)

    monkeypatch.setattr(batch_module.UnitOfWork, "commit", commit_fails_once)
    cmds = [mv(tx, energy(10, "102")), mv(tx, energy(20, "104"))]
    assert service.meter_values_batch(cmds) == [TransactionEventRecorded(tx)] * 2
    assert calls["n"] == 3  # the failed batch, then each command in its own transaction
    assert [s[1] for s in _samples(db)] == [at(0), at(10), at(20)]
    assert len(_keys(db)) == 2


def test_a_failing_fast_lane_hands_its_commands_to_the_slow_lane(
    service: SessionService, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    tx = service.start(start_cmd()).transaction_id

    def broken(*_: Any) -> Any:
        raise RuntimeError("fast lane bug")

    monkeypatch.setattr(batch_module, "run_fast_lane", broken)
    outcomes = service.meter_values_batch([mv(tx, energy(10, "102"))])
    assert outcomes == [TransactionEventRecorded(tx)]
    assert len(_samples(db)) == 2


def test_a_key_taken_by_a_twin_is_answered_from_the_twin(
    service: SessionService, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A twin that commits between the fast lane's answer lookup and its INSERT … ON
    CONFLICT DO NOTHING keeps the key: the command is answered from the twin's answer
    after the batch, and its samples are not stored twice."""
    tx = service.start(start_cmd()).transaction_id
    cmd, other = mv(tx, energy(10, "102")), mv(tx, energy(20, "104"), evse_id=2)
    service.meter_values(cmd)  # the twin, committed; the lookup below will not see it
    monkeypatch.setattr(fastlane, "_stored_answers", lambda *_: {})
    retried: list[RecordMeterValues] = []
    real_single = service._record_meter_values

    def single(c: RecordMeterValues) -> TransactionEventRecorded:
        retried.append(c)
        return real_single(c)

    monkeypatch.setattr(service, "_record_meter_values", single)
    assert service.meter_values_batch([cmd, other]) == [TransactionEventRecorded(tx)] * 2
    assert retried == [cmd]
    assert [s[1] for s in _samples(db)] == [at(0), at(10), at(20)]
    assert len(_keys(db)) == 2


class _Seen(NoHooks):
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def after_event(self, station_id: str, transaction_id: str) -> None:
        self.events.append((station_id, transaction_id))


def test_hooks_hear_of_each_committed_command_once(
    db: Database, settings: Any, clock: Any, station: str
) -> None:
    hooks = _Seen()
    service = SessionService(db, settings, clock=clock, hooks=hooks)
    tx = service.start(start_cmd()).transaction_id
    stranger = RecordMeterValues("CS-UNKNOWN", 1, "77", (energy(5, "1"),))
    cmds = [mv(tx, energy(10, "102")), stranger, mv(tx, energy(20, "104"))]
    quiet = service.meter_values_batch(cmds, notify=False)
    assert hooks.events == [(STATION, tx)]  # the start only
    service.notify_meter_values(cmds, quiet)
    assert hooks.events == [(STATION, tx)] * 3
    service.meter_values_batch(cmds)  # repeats: answered again, and told again like singles
    assert hooks.events == [(STATION, tx)] * 5
