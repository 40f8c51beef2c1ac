"""`evbill sessions show|rerate|resolve`: an operator sees why a session is held or flagged,
re-rates it (with another tariff if need be) and releases or corrects it; each decision is
an audit row and the session then goes the way every rated session goes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path

import pytest
from session_builders import TARIFF, at, start_cmd, stop_cmd
from sqlalchemy import select, update
from typer.testing import CliRunner

from evbill.cli import app
from evbill.config import get_settings
from evbill.sessions.commands import MeterReading, RecordMeterValues
from evbill.sessions.service import SessionService
from evbill.store import Database
from evbill.store.tables import CdrRow, SessionReviewRow, SessionRow


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[str]:
    monkeypatch.setenv("EVBILL_DATABASE_URL", database_url)
    monkeypatch.setenv("EVBILL_PAYMENT_PROVIDER", "sandbox")
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _id(db: Database, tx: str) -> int:
    with db.read_sessions() as s:
        return int(s.scalars(select(SessionRow.id).where(SessionRow.transaction_id == tx)).one())


def test_show_then_resolve_a_held_session(cli_env: str, db: Database,
                                          service: SessionService) -> None:
    tx = service.start(start_cmd()).transaction_id
    service.stop(stop_cmd(tx, stopped_at=at(1), meter_stop_wh=D(2147483647)))
    sid = str(_id(db, tx))
    code, out, err = invoke("sessions", "show", sid)
    assert code == 0, err
    assert "state      held" in out and "held because:" in out
    assert "more than the EVSE's maximum 400 kW allows" in out
    assert "meterStop 2147483647 Wh" in out
    code, _, err = invoke("sessions", "resolve", sid)
    assert code == 2 and "--reason" in err  # a release needs a why
    code, _, err = invoke("sessions", "resolve", sid, "--meter-stop", "lots", "--reason", "x")
    assert code == 2 and "not a number" in err
    code, out, err = invoke("sessions", "resolve", sid, "--meter-stop", "100400",
                            "--reason", "meter display read on site", "--actor", "ops@net")
    assert code == 0, err
    assert f"session {sid}: held → rated" in out
    code, out, _ = invoke("sessions", "show", sid)
    assert "state      rated" in out and "released by ops@net" in out
    assert "correct by ops@net: held → rated (meter display read on site)" in out
    with db.read_sessions() as s:
        cdr = s.scalars(select(CdrRow)).one()
        assert cdr.total_energy_wh == D(400)
    code, _, err = invoke("sessions", "show", "999999")
    assert code == 2 and "no such session" in err


def test_rerate_sessions_left_rating_failed_and_with_another_tariff(
    cli_env: str, db: Database, service: SessionService, tmp_path: Path
) -> None:
    # a 1.6 session as the old code left it: decimal samples, integer meterStop, rating_failed
    tx = service.start(start_cmd(meter_start_wh=D(0))).transaction_id
    service.meter_values(RecordMeterValues("CS-001", 1, tx, (MeterReading(at(30), D("66.25")),)))
    service.stop(stop_cmd(tx, stopped_at=at(30), meter_stop_wh=D(66)))
    sid = _id(db, tx)
    with db.sessions() as s, s.begin():
        s.execute(update(SessionRow).where(SessionRow.id == sid).values(
            state="finished", flags=["rating_failed"],
            review_note="rating_failed: samples[2].energy_wh: the register went backwards"))
        s.query(CdrRow).delete()
    code, out, err = invoke("sessions", "rerate", "--flag", "rating_failed")
    assert code == 0, err
    assert "1 session(s) re-rated, 1 rated" in out
    with db.read_sessions() as s:
        cdr = s.scalars(select(CdrRow)).one()
    assert cdr.total_energy_wh == D("66.25")
    dearer = {**TARIFF, "id": "AC-DEAR", "last_updated": "2025-02-01T00:00:00Z",
              "elements": [{"price_components": [
                  {"type": "ENERGY", "price": 1.00, "vat": 19.0, "step_size": 1}]}]}
    file = tmp_path / "dear.json"
    file.write_text(json.dumps(dearer), encoding="utf-8")
    code, out, err = invoke("sessions", "rerate", str(sid), "--tariff", str(file),
                            "--reason", "wrong tariff assigned")
    assert code == 0, err
    with db.read_sessions() as s:
        cdr = s.scalars(select(CdrRow)).one()
        audits = s.scalars(select(SessionReviewRow).order_by(SessionReviewRow.id)).all()
    assert cdr.revision == 2 and cdr.total_cost_excl_vat == D("0.067")  # 67 Wh (1 Wh steps)
    assert [(a.action, a.detail["tariff"]) for a in audits] == [
        ("rerate", None), ("rerate", "AC-DEAR")]
    code, _, err = invoke("sessions", "rerate", str(sid), "--tariff", "NOPE", "--reason", "x")
    assert code == 2 and "neither a file nor a stored tariff id" in err
    code, _, err = invoke("sessions", "rerate")
    assert code == 2 and "--flag" in err
