"""Operator commands: db upgrade/status, stations, tokens, tariffs, sessions list."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from session_builders import TARIFF, start_cmd
from typer.testing import CliRunner

from evbill.accounts.stations import StationRegistry
from evbill.cli import app
from evbill.config import Settings, get_settings
from evbill.sessions.service import SessionService
from evbill.store import Database


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[str]:
    monkeypatch.setenv("EVBILL_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_db_upgrade_and_status_on_a_fresh_file(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVBILL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("EVBILL_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        code, out, _ = invoke("db", "status")
        assert code == 1 and "database: (none)" in out
        code, _, err = invoke("stations", "list")
        assert code == 2 and "evbill db upgrade" in err  # refuses to work on a behind schema
        assert invoke("db", "upgrade")[0] == 0
        assert (tmp_path / "data" / "evbill.sqlite3").exists()
        code, out, _ = invoke("db", "status")
        assert code == 0 and "(none)" not in out
    finally:
        get_settings.cache_clear()


def test_operator_commands(cli_env: str, tmp_path: Path) -> None:
    code, _, err = invoke("stations", "add", "CS-9", "--password", "s3cret-s3cret-s3cret",
                          "--tz", "Europe/Berlin", "--evses", "2")  # fmt: skip
    assert code == 0, err
    assert invoke("stations", "add", "CS-9", "--tz", "Europe/Berlin")[0] == 2
    code, _, err = invoke("stations", "add", "CS-X", "--tz", "Mars/Olympus")
    assert code == 2 and "time_zone" in err
    code, _, err = invoke("stations", "add", "CS-Y", "--password", "short")
    assert code == 2 and "16 to 40" in err
    assert invoke("tokens", "add", "04a1b2c3d4e5f6", "--account", "driver-1")[0] == 0
    assert invoke("tokens", "add", "DE-8EO-C12E45A67-3", "--type", "eMAID")[0] == 0
    assert invoke("tokens", "add", "04A1B2C3D4E5F6")[0] == 2  # duplicate
    tariff = tmp_path / "tariff.json"
    tariff.write_text(json.dumps(TARIFF), encoding="utf-8")
    code, _, err = invoke("tariffs", "add", str(tariff), "--station", "CS-9", "--evse", "1")
    assert code == 0, err
    assert invoke("tariffs", "add", str(tariff))[0] == 2  # neither a station nor --default
    db = Database.open(cli_env)
    try:
        assert StationRegistry(db).check_password("CS-9", "s3cret-s3cret-s3cret")
        SessionService(db, Settings()).start(start_cmd(station_id="CS-9"))
    finally:
        db.dispose()
    code, out, err = invoke("sessions", "list", "--station", "CS-9")
    assert code == 0 and "1 session(s)" in out, err
    assert "charging" in err and "CS-9" in err
    code, out, _ = invoke("sessions", "list", "--state", "rated")
    assert code == 0 and "0 session(s)" in out
