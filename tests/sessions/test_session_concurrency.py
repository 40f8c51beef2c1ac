"""Two gateways (threads, separate engines) sending the same command at the same moment."""

from __future__ import annotations

import threading

import pytest
from session_builders import STATION, Clock, energy, start_cmd, stop_cmd
from sqlalchemy import func, select

from evbill.config import Settings
from evbill.sessions.commands import RecordMeterValues, StartResult, StopResult
from evbill.sessions.service import SessionService
from evbill.store import Database
from evbill.store.tables import CdrRow, MeterSampleRow, SessionRow


def _race(db: Database, settings: Settings, clock: Clock, call: str, cmd: object,
          n: int = 4) -> list[object]:
    url = db.engine.url.render_as_string(hide_password=False)
    engines = [Database.open(url) for _ in range(n)]
    barrier = threading.Barrier(n)
    answers: list[object] = []
    errors: list[BaseException] = []

    def run(database: Database) -> None:
        service = SessionService(database, settings, clock=clock)
        barrier.wait()
        try:
            answers.append(getattr(service, call)(cmd))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for engine in engines:
        engine.dispose()
    assert errors == []
    return answers


def _count(db: Database, model: type) -> int:
    with db.read_sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_concurrent_identical_starts_create_one_session(
    db: Database, settings: Settings, clock: Clock, station: str
) -> None:
    answers = _race(db, settings, clock, "start", start_cmd())
    assert len(answers) == 4 and len(set(answers)) == 1
    assert isinstance(answers[0], StartResult)
    assert _count(db, SessionRow) == 1


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_concurrent_identical_stops_and_meter_values_count_once(
    db: Database, settings: Settings, clock: Clock, station: str
) -> None:
    tx = SessionService(db, settings, clock=clock).start(start_cmd()).transaction_id
    values = RecordMeterValues(STATION, 1, tx, (energy(20, "104"), energy(40, "108")))
    _race(db, settings, clock, "meter_values", values)
    answers = _race(db, settings, clock, "stop", stop_cmd(tx))
    assert len(set(answers)) == 1 and isinstance(answers[0], StopResult)
    assert _count(db, SessionRow) == 1 and _count(db, CdrRow) == 1
    assert _count(db, MeterSampleRow) == 4  # begin, two samples, end


def test_concurrent_starts_on_sqlite_serialise(
    db: Database, settings: Settings, clock: Clock, station: str
) -> None:
    answers = _race(db, settings, clock, "start", start_cmd(), n=3)
    assert len(set(answers)) == 1 and _count(db, SessionRow) == 1
