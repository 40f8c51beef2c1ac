"""Group commit for MeterValues: many stations' samples in one transaction, one answer each.

`record_meter_values_batch` applies each command exactly as `SessionService.meter_values`
would (dedup key first, then the samples), but inside one write transaction, each command
in its own SAVEPOINT so that a failing command rolls back alone. Nothing is returned before
the single COMMIT: the caller acknowledges a station only once its own data is durable.

Per command the result is its answer or the exception the single path would have raised.
Commands that lost a race (a twin committed by another process, a deadlock, a busy
database) and every command of a batch whose COMMIT fails are run again one by one through
the single path, so an item never fails because of a neighbour.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError, OperationalError

from evbill.config import Settings
from evbill.sessions import codec
from evbill.sessions.commands import RecordMeterValues, TransactionEventRecorded
from evbill.sessions.fastlane import FastLane, fast_candidates, run_fast_lane
from evbill.sessions.transactions import apply_meter_values
from evbill.store.database import Database
from evbill.store.uow import UnitOfWork

__all__ = ["BatchOutcome", "record_meter_values_batch"]

log = logging.getLogger(__name__)

#: One command's outcome: its answer, or the exception the single path would raise.
BatchOutcome = TransactionEventRecorded | Exception
#: The retry of a single command outside the batch (`SessionService.meter_values`).
SingleRecorder = Callable[[RecordMeterValues], TransactionEventRecorded]

_RACES = (IntegrityError, OperationalError)


def _apply_one(
    uow: UnitOfWork, cmd: RecordMeterValues, clock: Callable[[], datetime], settings: Settings
) -> TransactionEventRecorded:
    """Dedup, then record: the body of one command's SAVEPOINT."""
    stored = uow.commands.get(cmd.dedup_key)
    if stored is not None and stored.answer is not None:
        log.info("session.duplicate kind=meter_values station_id=%s key=%s",
                 cmd.station_id, cmd.dedup_key)  # fmt: skip
        return codec.decode_event(stored.answer)
    now = clock()
    claim = uow.commands.claim(cmd.dedup_key, "meter_values", cmd.station_id, now)
    answer = apply_meter_values(uow, cmd, now, settings)
    uow.commands.set_answer(claim, codec.encode_event(answer))
    return answer


def _fast_lane(
    uow: UnitOfWork, cmds: Sequence[RecordMeterValues], candidates: list[int], now: datetime,
    silence: timedelta,
) -> FastLane:
    """The fast lane in a SAVEPOINT: if it fails, its commands take the slow lane instead."""
    if not candidates:
        return FastLane()
    try:
        with uow.session.begin_nested():
            return run_fast_lane(uow.session, cmds, candidates, now, silence)
    except Exception as exc:
        log.warning("session.fast_lane_failed size=%d error=%s", len(candidates),
                    exc.__class__.__name__)  # fmt: skip
        return FastLane(slow=list(candidates))


def _run_single(single: SingleRecorder, cmd: RecordMeterValues) -> BatchOutcome:
    try:
        return single(cmd)
    except Exception as exc:  # handed to this command's caller
        return exc


def record_meter_values_batch(
    db: Database,
    cmds: Sequence[RecordMeterValues],
    clock: Callable[[], datetime],
    single: SingleRecorder,
    settings: Settings,
) -> list[BatchOutcome]:
    """Apply `cmds` in order in one transaction; return one outcome per command, in order.

    Identical commands in one batch behave as they do across transactions: the first does
    the work, the later ones get its stored answer.
    """
    outcomes: list[BatchOutcome | None] = [None] * len(cmds)
    again: list[int] = []
    candidates, slow = fast_candidates(cmds)
    try:
        with UnitOfWork(db) as uow:
            lane = _fast_lane(uow, cmds, candidates, clock(),
                              timedelta(seconds=settings.session_silence))
            for index, answer in lane.answered.items():
                outcomes[index] = answer
            again.extend(lane.again)
            for index in sorted([*slow, *lane.slow]):
                cmd = cmds[index]
                try:
                    with uow.session.begin_nested():
                        outcomes[index] = _apply_one(uow, cmd, clock, settings)
                except _RACES as exc:  # lost a race: try it alone once this batch is in
                    log.info("session.batch_retry station_id=%s key=%s error=%s",
                             cmd.station_id, cmd.dedup_key, exc.__class__.__name__)  # fmt: skip
                    again.append(index)
                except Exception as exc:  # this command's own failure
                    outcomes[index] = exc
            uow.commit()
    except _RACES as exc:
        # The COMMIT (or the transaction itself) failed: nothing of this batch is stored.
        log.warning("session.batch_failed size=%d error=%s", len(cmds), exc.__class__.__name__)
        outcomes, again = [None] * len(cmds), list(range(len(cmds)))
    for index in again:
        outcomes[index] = _run_single(single, cmds[index])
    log.debug("session.batch_committed size=%d retried=%d", len(cmds), len(again))
    done: list[BatchOutcome] = []
    for outcome in outcomes:
        assert outcome is not None  # every index has an answer, an error or a retry
        done.append(outcome)
    return done
