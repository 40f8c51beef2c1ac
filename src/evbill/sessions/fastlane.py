"""The fast lane of a MeterValues batch: set-based SQL for samples on running sessions.

Most MeterValues carry a transaction id, plain (unsigned) readings, and belong to a session
that has started and is still open. For those, `apply_meter_values` amounts to: claim the
dedup key, insert the samples not stored yet, touch the session (state, seqNo). The fast
lane does exactly that for a whole batch in a handful of statements: one lookup of stored
answers, one of the sessions (locked on PostgreSQL), one INSERT … ON CONFLICT DO NOTHING
RETURNING for the keys (a key a concurrent twin holds is not returned: that command is
retried alone once the batch is committed), one for the samples (the unique
(session, time, context) constraint skips those already stored), one UPDATE per session.

Anything else (no transaction id, signed data, an unknown, placeholder or finished session,
a transition the state machine refuses, a second command of the same station in the batch,
a seqNo that is not simply the next one, a session silent for too long: see
`evbill.sessions.gaps`) goes to the slow lane, which runs the full ORM logic per command
after this one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from evbill.sessions import codec
from evbill.sessions.commands import RecordMeterValues, TransactionEventRecorded
from evbill.sessions.gaps import fits_in_order
from evbill.sessions.recording import charging_of
from evbill.sessions.state import SessionState, can_transition, state_for_charging
from evbill.store.tables import MeterSampleRow, ProcessedCommandRow, SessionRow

__all__ = ["FastLane", "fast_candidates", "run_fast_lane"]

_OPEN = frozenset({SessionState.PENDING.value, SessionState.CHARGING.value,
                   SessionState.SUSPENDED.value, SessionState.PARKED.value})  # fmt: skip
_CHUNK = 400  # rows per multi-row statement (bind-parameter limits)

_commands: Table = ProcessedCommandRow.__table__  # type: ignore[assignment]
_sessions: Table = SessionRow.__table__  # type: ignore[assignment]
_samples: Table = MeterSampleRow.__table__  # type: ignore[assignment]


@dataclass
class FastLane:
    """What the fast lane did: answers by batch index, and what it left to others."""

    answered: dict[int, TransactionEventRecorded] = field(default_factory=dict)
    slow: list[int] = field(default_factory=list)  # for the per-command ORM path, in order
    again: list[int] = field(default_factory=list)  # a twin holds the key: retry after commit


def fast_candidates(cmds: Sequence[RecordMeterValues]) -> tuple[list[int], list[int]]:
    """(candidates, slow): a candidate has a transaction id and plain readings, and is its
    station's first command in the batch, so each station's commands keep their order."""
    seen_stations: set[str] = set()
    seen_keys: set[str] = set()
    candidates: list[int] = []
    slow: list[int] = []
    for index, cmd in enumerate(cmds):
        key = cmd.dedup_key
        first = cmd.station_id not in seen_stations and key not in seen_keys
        plain = (
            cmd.transaction_id is not None
            and cmd.readings
            and all(r.signed is None for r in cmd.readings)
        )
        (candidates if first and plain else slow).append(index)
        seen_stations.add(cmd.station_id)
        seen_keys.add(key)
    return candidates, slow


def _insert(session: Session, table: Table) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _stored_answers(session: Session, keys: list[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(keys), _CHUNK):
        stmt = select(_commands.c.key, _commands.c.answer).where(
            _commands.c.key.in_(keys[start : start + _CHUNK]), _commands.c.answer.is_not(None)
        )
        found.update({row.key: row.answer for row in session.execute(stmt)})
    return found


def _open_sessions(session: Session, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    found: dict[tuple[str, str], Any] = {}
    c = _sessions.c
    for start in range(0, len(pairs), _CHUNK):
        stmt = (
            select(c.id, c.station_id, c.transaction_id, c.state, c.start_received, c.last_seq_no,
                   c.seq_track, c.updated_at)
            .where(tuple_(c.station_id, c.transaction_id).in_(pairs[start : start + _CHUNK]))
            .with_for_update()
        )
        found.update({(r.station_id, r.transaction_id): r for r in session.execute(stmt)})
    return found


def _session_change(cmd: RecordMeterValues, row: Any) -> tuple[str, int | None] | None:
    """The session's (state, last_seq_no) after `cmd`, as `apply_meter_values` sets them;
    None when the state machine would refuse (the slow lane raises the same error)."""
    newest = cmd.seq_no is None or row.last_seq_no is None or cmd.seq_no > row.last_seq_no
    if cmd.charging_state is None or not newest:
        return row.state, row.last_seq_no
    target = state_for_charging(cmd.charging_state)
    state = row.state
    if target is not None and target.value != state:
        if not can_transition(SessionState(state), target):
            return None
        state = target.value
    return state, cmd.seq_no if cmd.seq_no is not None else row.last_seq_no


def _sample_rows(cmd: RecordMeterValues, session_id: int, now: datetime) -> list[dict[str, Any]]:
    rows, seen = [], set()
    charging = charging_of(cmd.charging_state)
    for r in cmd.readings:
        if (r.at, r.context) in seen:
            continue  # the first reading of a (time, context) wins, as in the slow lane
        seen.add((r.at, r.context))
        rows.append({
            "session_id": session_id, "station_id": cmd.station_id, "evse_id": cmd.evse_id,
            "at": r.at, "context": r.context.value, "energy_wh": r.energy_wh,
            "power_w": r.power_w, "current_a": r.current_a, "soc_percent": r.soc_percent,
            "charging": charging, "received_at": now,
        })  # fmt: skip
    return rows


def _claim(session: Session, claims: list[dict[str, Any]]) -> set[str]:
    """Insert the dedup keys with their answers; return the keys this transaction got.

    One cached statement, executed for many rows (SQLAlchemy sends them as multi-row
    INSERTs: "insertmanyvalues"), so nothing is compiled per batch."""
    stmt = (
        _insert(session, _commands)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(_commands.c.key)
    )
    return set(session.connection().execute(stmt, claims).scalars())


def run_fast_lane(
    session: Session, cmds: Sequence[RecordMeterValues], candidates: list[int], now: datetime,
    silence: timedelta,
) -> FastLane:
    """Apply the `candidates` (indexes into `cmds`) that qualify; report the rest."""
    lane = FastLane()
    stored = _stored_answers(session, [cmds[i].dedup_key for i in candidates])
    pending = []
    for index in candidates:
        answer = stored.get(cmds[index].dedup_key)
        if answer is not None:  # a repeat of a committed command: its first answer
            lane.answered[index] = codec.decode_event(answer)
        else:
            pending.append(index)
    pairs = [(cmds[i].station_id, str(cmds[i].transaction_id)) for i in pending]
    found = _open_sessions(session, pairs) if pairs else {}
    work: list[tuple[int, Any, tuple[str, int | None]]] = []
    for index, pair in zip(pending, pairs, strict=True):
        row = found.get(pair)
        change = None
        if row is not None and row.start_received and row.state in _OPEN \
                and fits_in_order(row.seq_track, cmds[index].seq_no) \
                and now - row.updated_at <= silence:
            change = _session_change(cmds[index], row)
        if change is None:
            lane.slow.append(index)
        else:
            work.append((index, row, change))
    _write(session, cmds, work, now, lane)
    return lane


def _write(
    session: Session,
    cmds: Sequence[RecordMeterValues],
    work: list[tuple[int, Any, tuple[str, int | None]]],
    now: datetime,
    lane: FastLane,
) -> None:
    if not work:
        return
    answers = {i: TransactionEventRecorded(row.transaction_id or "") for i, row, _ in work}
    claims = [{"key": cmds[i].dedup_key, "kind": "meter_values", "station_id": cmds[i].station_id,
               "answer": codec.encode_event(answers[i]), "created_at": now}
              for i, _, _ in work]  # fmt: skip
    got = _claim(session, claims)
    samples: list[dict[str, Any]] = []
    touched: list[dict[str, Any]] = []
    for index, row, (state, seq) in work:
        if cmds[index].dedup_key not in got:
            lane.again.append(index)
            continue
        samples.extend(_sample_rows(cmds[index], row.id, now))
        track = row.seq_track if cmds[index].seq_no is None else \
            {**row.seq_track, "high": cmds[index].seq_no}
        touched.append({"sid": row.id, "new_state": state, "new_seq": seq, "now": now,
                        "new_track": track})
        lane.answered[index] = answers[index]
    if samples:
        stmt = _insert(session, _samples).on_conflict_do_nothing(
            index_elements=["session_id", "at", "context"]
        )
        session.connection().execute(stmt, samples)
    if touched:
        c = _sessions.c
        stmt = (
            update(_sessions)
            .where(c.id == bindparam("sid"))
            .values(
                state=bindparam("new_state"),
                last_seq_no=bindparam("new_seq"),
                seq_track=bindparam("new_track", type_=_sessions.c.seq_track.type),
                updated_at=bindparam("now"),
            )
        )
        session.connection().execute(stmt, touched)
