"""Deduplication keys past their retention are forgotten in batches; what is recorded stays
exact: a message replayed after its key went is still not recorded twice."""

from __future__ import annotations

from datetime import timedelta

from session_builders import STATION, Clock, at, energy, start_cmd
from sqlalchemy import func, select
from typer.testing import CliRunner

from evbill.cli import app
from evbill.clock import utc_now
from evbill.sessions.commands import RecordMeterValues
from evbill.sessions.retention import prune_dedup_keys
from evbill.sessions.service import SessionService
from evbill.store import Database
from evbill.store.tables import MeterSampleRow, ProcessedCommandRow

DAY = timedelta(days=1)


def _keys(db: Database) -> set[str]:
    with db.read_sessions() as s:
        return set(s.scalars(select(ProcessedCommandRow.key)))


def _age_keys(db: Database, days: int) -> None:
    """Make every key `days` older (as if claimed that long ago)."""
    with db.sessions() as s, s.begin():
        for row in s.scalars(select(ProcessedCommandRow)):
            row.created_at = row.created_at - days * DAY


def test_old_keys_go_in_batches_and_recent_ones_stay(db: Database, service: SessionService,
                                                     clock: Clock) -> None:  # fmt: skip
    started = service.start(start_cmd())
    for minute in range(1, 8):
        service.meter_values(RecordMeterValues(STATION, 1, started.transaction_id,
                                               (energy(minute, f"{minute}.0"),)))  # fmt: skip
    old = _keys(db)
    assert len(old) == 8  # the start and seven MeterValues
    _age_keys(db, 40)
    service.meter_values(RecordMeterValues(STATION, 1, started.transaction_id,
                                           (energy(9, "9.0"),)))  # fmt: skip
    recent = _keys(db) - old
    assert len(recent) == 1
    batches: list[int] = []
    gone = prune_dedup_keys(db, clock.now, timedelta(days=30), batch=3, on_batch=batches.append)
    assert gone == 8 and batches == [3, 3, 2]
    assert _keys(db) == recent
    assert prune_dedup_keys(db, clock.now, timedelta(days=30)) == 0  # idempotent


def test_a_replay_after_its_key_went_is_still_not_recorded_twice(
    db: Database, service: SessionService, clock: Clock
) -> None:  # fmt: skip
    started = service.start(start_cmd())
    reading = RecordMeterValues(STATION, 1, started.transaction_id, (energy(5, "2.5"),))
    first = service.meter_values(reading)
    _age_keys(db, 40)
    assert prune_dedup_keys(db, clock.now, timedelta(days=30)) == 2
    again = service.meter_values(reading)  # the station replays the very same message
    assert again.transaction_id == first.transaction_id
    with db.read_sessions() as s:
        samples = s.scalar(select(func.count()).select_from(MeterSampleRow)
                           .where(MeterSampleRow.at == at(5)))  # fmt: skip
    assert samples == 1


def test_the_cli_prunes_with_the_configured_retention(
    database_url: str, db: Database, service: SessionService
) -> None:  # fmt: skip
    service.start(start_cmd())
    with db.sessions() as s, s.begin():  # the command runs on the wall clock
        for row in s.scalars(select(ProcessedCommandRow)):
            row.created_at = utc_now() - 10 * DAY
    runner = CliRunner()
    kept = runner.invoke(app, ["db", "prune-dedup", "--url", database_url])  # 30 days
    assert kept.exit_code == 0, kept.output
    assert kept.stdout.strip().splitlines()[-1] == "0" and len(_keys(db)) == 1
    gone = runner.invoke(app, ["db", "prune-dedup", "--older-than-days", "7", "--url",
                               database_url])  # fmt: skip
    assert gone.exit_code == 0, gone.output
    assert gone.stdout.strip().splitlines()[-1] == "1" and _keys(db) == set()
