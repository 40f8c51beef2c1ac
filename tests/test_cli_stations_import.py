"""`evbill stations import FILE.csv`: every row checked, per-row errors, all or nothing (or
--valid-only), idempotent re-runs, generated passwords shown once; and the other onboarding
fixes (help says PBKDF2, profile 0 warning, db upgrade output, sessions list at 80 columns)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from evbill.accounts.station_import import (
    ImportReport,
    StationImporter,
    parse_evses,
    read_stations,
)
from evbill.accounts.stations import StationRegistry
from evbill.cli import app
from evbill.clock import utc_now
from evbill.config import Settings, get_settings
from evbill.ocpp.auth import verify_station_password
from evbill.sessions.commands import IdToken, IdTokenType, StartSession
from evbill.sessions.service import SessionService
from evbill.store import Database
from evbill.store.installation import STATION_PASSWORD_KEY, installation_secret
from evbill.store.tables import ConnectorRow, EvseRow, StationRow

GOOD = """id,password,operator,time_zone,evses,location
CS-A1,correct-horse-battery-staple,NET1,Europe/Berlin,2x22;150,"Hauptstr. 1, Berlin"
CS-A2,,NET1,,11,
CS-A3,,NET2,Europe/Paris,3.7;7.4,Rue de Rivoli 1
"""


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[str]:
    monkeypatch.setenv("EVBILL_DATABASE_URL", database_url)
    monkeypatch.setenv("EVBILL_DEFAULT_TIMEZONE", "Europe/Amsterdam")
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _csv(tmp_path: Path, text: str, name: str = "stations.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _counts(url: str) -> tuple[int, int, int]:
    db = Database.open(url)
    try:
        with db.read_sessions() as s:
            return tuple(s.scalar(select(func.count()).select_from(t)) or 0  # type: ignore[return-value]
                         for t in (StationRow, EvseRow, ConnectorRow))
    finally:
        db.dispose()


def test_parse_evses() -> None:
    assert [(e.connectors, e.max_power_w) for e in parse_evses("2x22;150")] == [
        (2, 22_000), (1, 150_000)]
    assert [(e.connectors, e.max_power_w) for e in parse_evses(" 3.7 ; 1 x 7.4kW ")] == [
        (1, 3_700), (1, 7_400)]
    for bad, reason in (("", "at least one EVSE"), ("0", "above 0"), ("9x22", "connectors"),
                        ("2x", "not KW or NxKW"), ("22.0001", "finer than 1 W"),
                        ("5000", "at most"), (";".join(["11"] * 65), "at most 64")):
        with pytest.raises(ValueError, match=reason):
            parse_evses(bad)


def test_import_registers_every_row_and_a_rerun_changes_nothing(cli_env: str,
                                                                tmp_path: Path) -> None:
    code, out, err = invoke("stations", "import", _csv(tmp_path, GOOD))
    assert code == 0, err
    assert "added: 3" in out and "unchanged: 0" in out and "refused: 0" in out
    generated = dict(line.split(",", 1) for line in out.splitlines()
                     if line.startswith("CS-A"))  # fmt: skip
    assert set(generated) == {"CS-A2", "CS-A3"}  # the given password is never printed
    assert "correct-horse" not in out + err
    assert _counts(cli_env) == (3, 5, 6)
    db = Database.open(cli_env)
    try:
        registry = StationRegistry(db)
        a1 = registry.get("CS-A1")
        assert a1 is not None and a1.operator == "NET1" and a1.address == "Hauptstr. 1, Berlin"
        # the registry's own scheme (keyed HMAC), not the slow hash kept for people
        assert a1.password_hash is not None and a1.password_hash.startswith("hmac_sha256$")
        assert registry.check_password("CS-A1", "correct-horse-battery-staple")
        # what the gateway's handshake checks: it verifies only with the installation's key
        key = installation_secret(db, STATION_PASSWORD_KEY)
        assert verify_station_password("correct-horse-battery-staple", a1.password_hash, key)
        assert not verify_station_password("correct-horse-battery-staple", a1.password_hash)
        for sid, password in generated.items():
            assert 16 <= len(password) <= 40 and registry.check_password(sid, password)
        a2 = registry.get("CS-A2")
        assert a2 is not None and a2.time_zone == "Europe/Amsterdam"  # the default zone
        with db.read_sessions() as s:
            evses = s.execute(select(EvseRow.evse_id, EvseRow.max_power_w).where(
                EvseRow.station_id == "CS-A1").order_by(EvseRow.evse_id)).all()
            connectors = s.scalar(select(func.count()).select_from(ConnectorRow).where(
                ConnectorRow.station_id == "CS-A1", ConnectorRow.evse_id == 1))
        assert [tuple(e) for e in evses] == [(1, 22_000), (2, 150_000)] and connectors == 2
    finally:
        db.dispose()

    code, out, err = invoke("stations", "import", _csv(tmp_path, GOOD))
    assert code == 0, err
    assert "added: 0" in out and "unchanged: 3" in out
    assert "CS-A2," not in out  # no password is generated (or changed) a second time
    assert _counts(cli_env) == (3, 5, 6)


def test_one_bad_row_imports_nothing_and_every_reason_is_reported(cli_env: str,
                                                                  tmp_path: Path) -> None:
    text = GOOD + ("CS-B1,short,NET1,Mars/Olympus,2x,\n"
                   "CS-A2,,NET1,,11,\n"
                   "bad id,,,,22,\n")  # fmt: skip
    code, out, err = invoke("stations", "import", _csv(tmp_path, text))
    assert code == 1 and "refused: 5" in out and "added: 0" in out
    flat = " ".join(err.split())
    for line, field in (("5", "password"), ("5", "time_zone"), ("5", "evses"), ("6", "id"),
                        ("7", "id")):
        assert any(row.split("│")[1:4] and row.split("│")[1].strip() == line
                   and row.split("│")[3].strip() == field
                   for row in err.splitlines() if "│" in row), (line, field, err)
    assert "duplicate of line 3" in flat and "'Mars/Olympus' is not an IANA time zone" in flat
    assert "nothing was imported" in flat
    assert _counts(cli_env) == (0, 0, 0)

    code, out, err = invoke("stations", "import", "--valid-only", _csv(tmp_path, text))
    assert code == 1 and "added: 3" in out and "refused: 5" in out
    assert _counts(cli_env) == (3, 5, 6)


def test_a_registered_station_that_differs_is_a_conflict_left_as_it_is(
        cli_env: str, tmp_path: Path) -> None:  # fmt: skip
    assert invoke("stations", "import", _csv(tmp_path, GOOD))[0] == 0
    changed = GOOD.replace("CS-A3,,NET2,Europe/Paris,3.7;7.4", "CS-A3,,NET2,Europe/Paris,22")
    changed += "CS-A4,,NET2,,22,\n"
    code, out, err = invoke("stations", "import", _csv(tmp_path, changed, "changed.csv"))
    assert code == 1 and "refused: 1" in out and "added: 0" in out
    assert "CS-A3" in err and "evses" in err
    assert _counts(cli_env) == (3, 5, 6)  # all or nothing: CS-A4 waits for the fix
    db = Database.open(cli_env)
    try:
        specs, errors = read_stations(changed, "Europe/Amsterdam")
        report = StationImporter(db).run(specs, errors, now=utc_now(), valid_only=True)
    finally:
        db.dispose()
    assert [str(e) for e in report.errors] == [
        "line 4 station 'CS-A3': evses: already registered with 1x3.7;1x7.4, the file says 1x22"]
    assert report.added == ["CS-A4"] and sorted(report.unchanged) == ["CS-A1", "CS-A2"]
    assert _counts(cli_env) == (4, 6, 7)


def test_the_header_is_checked(tmp_path: Path) -> None:
    specs, errors = read_stations("id,pasword,evses\nCS-1,,22\n", "UTC")
    assert specs == [] and [(e.line, e.field) for e in errors] == [(1, "header")]
    assert "unknown column(s) pasword" in errors[0].reason
    specs, errors = read_stations("id,password\nCS-1,\n", "UTC")
    assert "missing column(s) evses" in errors[0].reason
    specs, errors = read_stations("id,password,evses\nCS-1,0123456789abcdef ,22\n", "UTC")
    assert specs == [] and [(e.line, e.field) for e in errors] == [(2, "password")]
    assert "starts or ends with a space" in errors[0].reason


def test_generated_passwords_go_to_a_new_private_file(cli_env: str, tmp_path: Path) -> None:
    out_file = tmp_path / "passwords.csv"
    code, out, err = invoke("stations", "import", "--passwords-out", str(out_file),
                            _csv(tmp_path, GOOD))  # fmt: skip
    assert code == 0, err
    assert "CS-A2," not in out
    assert os.stat(out_file).st_mode & 0o777 == 0o600
    lines = out_file.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "id,password" and {line.split(",")[0] for line in lines[1:]} == {
        "CS-A2", "CS-A3"}
    code, _, err = invoke("stations", "import", "--passwords-out", str(out_file),
                          _csv(tmp_path, GOOD))  # fmt: skip
    assert code == 2 and "never overwritten" in err


def test_two_importers_of_the_same_rows_register_each_station_once(db: Database) -> None:
    """An import racing another (its rows registered between its check and its insert)
    counts them as unchanged instead of failing, and still adds the rest."""
    specs, errors = read_stations(GOOD, "UTC")
    late = StationImporter(db)
    report = ImportReport()
    new = late._against_registered(specs, report, lambda n: None)  # checked: all three new
    assert len(new) == 3 and report.errors == [] and report.unchanged == []
    other = StationImporter(db).run(specs[:2], errors, now=utc_now())  # wins CS-A1 and CS-A2
    assert other.added == ["CS-A1", "CS-A2"]
    key = installation_secret(db, STATION_PASSWORD_KEY)
    late._add_batch(new, utc_now(), key, report)  # the batch insert collides
    assert sorted(report.unchanged) == ["CS-A1", "CS-A2"] and report.added == ["CS-A3"]
    assert set(report.generated) == {"CS-A3"} and report.errors == []


def test_stations_add_help_says_what_the_code_stores(cli_env: str) -> None:
    code, out, _ = invoke("stations", "add", "--help")
    assert code == 0 and "HMAC-SHA256" in out and "scrypt" not in out  # a keyed hash
    assert invoke("stations", "add", "CS-H", "--password", "0123456789abcdef")[0] == 0
    db = Database.open(cli_env)
    try:
        row = StationRegistry(db).get("CS-H")
        assert row is not None and (row.password_hash or "").startswith("hmac_sha256$")
    finally:
        db.dispose()


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "evbill", *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, **env})  # fmt: skip


def test_db_upgrade_ends_its_output_with_a_newline(tmp_path: Path) -> None:
    done = _run(["db", "upgrade"], {"EVBILL_DATA_DIR": str(tmp_path / "data")})
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("\n") and done.stderr.endswith("\n")


def test_sessions_list_fits_80_columns(cli_env: str) -> None:
    db = Database.open(cli_env)
    try:
        StationRegistry(db).add("CS-LONG-STATION-IDENTIFIER-0001", time_zone="UTC",
                                now=utc_now(), evses=2)  # fmt: skip
        service = SessionService(db, Settings())
        for evse in (1, 2):
            service.start(StartSession(
                station_id="CS-LONG-STATION-IDENTIFIER-0001", evse_id=evse, connector_id=1,
                id_token=IdToken("04A1B2C3D4E5F6", IdTokenType.ISO14443),
                meter_start_wh=Decimal(1000), started_at=utc_now()))  # fmt: skip
        ids = [v.session_id for v in service.list_sessions(limit=10)]
    finally:
        db.dispose()
    for columns, has_tx in (("80", False), ("160", True)):
        done = _run(["sessions", "list"], {"EVBILL_DATABASE_URL": cli_env, "COLUMNS": columns})
        assert done.returncode == 0, done.stderr
        lines = done.stderr.splitlines()
        assert max(len(line) for line in lines) <= int(columns)
        assert "…" not in done.stderr
        assert all(any(sid in line for line in lines) for sid in ids)  # ids whole, copyable
        assert ("tx" in lines[1]) is has_tx
        assert "2 session(s)" in done.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("profile", ["0", "1"])
def test_serve_warns_at_start_when_stations_need_no_authentication(
        tmp_path: Path, profile: str) -> None:  # fmt: skip
    env = {**os.environ, "EVBILL_DATA_DIR": str(tmp_path / "data"),
           "EVBILL_OCPP_SECURITY_PROFILE": profile, "EVBILL_OCPP_HOST": "127.0.0.1",
           "EVBILL_OCPP_PORT": str(_free_port()), "COLUMNS": "200"}
    env.pop("EVBILL_DATABASE_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "evbill", "serve", "--no-api"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        seen = ""
        assert proc.stderr is not None
        while "OCPP gateway on" not in seen and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            seen += line
        assert "OCPP gateway on" in seen, seen
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    warned = "EVBILL_OCPP_SECURITY_PROFILE=0" in seen and "lab use only" in seen
    assert warned is (profile == "0"), seen
