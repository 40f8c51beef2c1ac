"""The staff path without the database: `evbill users add|list|disable` and `evbill tokens
issue`, then the created staff user signs in to the API that `evbill serve` would run on the
same data directory (the same installation keys)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from evbill.api.app import create_app
from evbill.api.settings import ApiSettings
from evbill.cli import app
from evbill.config import Settings, get_settings
from evbill.payments.providers.sandbox import SandboxProvider
from evbill.store.database import Database

PASSWORD = "a long enough password"


@pytest.fixture
def data_dir(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    data = tmp_path / "data"
    monkeypatch.setenv("EVBILL_DATABASE_URL", database_url)
    monkeypatch.setenv("EVBILL_DATA_DIR", str(data))
    monkeypatch.setenv("EVBILL_API_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("EVBILL_API_ARGON2_MEMORY_KIB", "1024")
    get_settings.cache_clear()
    yield data
    get_settings.cache_clear()


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def api(database_url: str, data_dir: Path) -> Iterator[TestClient]:
    db = Database.open(database_url)
    settings = Settings(data_dir=data_dir, database_url=database_url)
    api_settings = ApiSettings(argon2_time_cost=1, argon2_memory_kib=1024, settle_interval_s=0)
    with TestClient(create_app(settings, api_settings=api_settings, db=db,
                               provider=SandboxProvider(namespace="t"))) as client:  # fmt: skip
        yield client
    db.dispose()


def sign_in(api: TestClient, email: str, password: str = PASSWORD) -> int:
    return api.post("/api/v1/auth/token", json={"email": email, "password": password}).status_code


def test_staff_are_added_listed_and_disabled_from_the_cli(data_dir: Path,
                                                          api: TestClient) -> None:  # fmt: skip
    code, out, _ = run("users", "add", "fin@example.org", "--role", "finance", "--operator",
                       "op-a", "--name", "Fiona Finance", "--password-stdin", stdin=PASSWORD)
    assert code == 0 and out.strip().startswith("usr_")
    code, out, _ = run("users", "add", "boss@example.org", "--role", "operator_admin",
                       "--operator", "op-b", stdin=f"{PASSWORD}\n{PASSWORD}\n")  # prompted
    assert code == 0, out
    token = api.post("/api/v1/auth/token", json={"email": "fin@example.org",
                                                 "password": PASSWORD}).json()["access_token"]
    me = api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert (me["role"], me["operator_id"], me["name"]) == ("finance", "op-a", "Fiona Finance")
    code, out, _ = run("users", "list")
    lines = sorted(line.split("\t")[1:] for line in out.strip().splitlines())
    assert code == 0 and lines == [["boss@example.org", "operator_admin", "op-b", "active"],
                                   ["fin@example.org", "finance", "op-a", "active"]]
    code, out, _ = run("users", "list", "--operator", "op-b")
    assert [line.split("\t")[1] for line in out.strip().splitlines()] == ["boss@example.org"]
    code, _, err = run("users", "disable", "fin@example.org")
    assert code == 0 and "disabled" in err
    assert sign_in(api, "fin@example.org") == 401
    assert "disabled" in run("users", "list", "--operator", "op-a")[1]
    assert run("users", "disable", "fin@example.org", "--enable")[0] == 0
    assert sign_in(api, "fin@example.org") == 200


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--role", "finance", "--operator", "op-a", "--password-stdin"], "short\n",
         "password: must be 10 to 256 characters"),  # the drivers' rule
        (["--role", "finance", "--operator", "op-a"], f"{PASSWORD}\nanother one!\n",
         "password: the two entries differ"),
        (["--role", "finance", "--operator", "", "--password-stdin"], PASSWORD,
         "operator_id: must be 1 to 128 characters"),
        (["--role", "driver", "--operator", "op-a", "--password-stdin"], PASSWORD,
         "'driver' is not one of"),
    ],
)
def test_bad_staff_input_is_refused_clearly(data_dir: Path, args: list[str], stdin: str,
                                            message: str) -> None:  # fmt: skip
    code, out, err = run("users", "add", "x@example.org", *args, stdin=stdin)
    assert code == 2 and message in " ".join((out + err).split()), out + err
    assert run("users", "list")[1] == ""


def test_a_duplicate_and_an_unknown_user_are_refused(data_dir: Path) -> None:
    add = ("users", "add", "fin@example.org", "--role", "finance", "--operator", "op-a",
           "--password-stdin")  # fmt: skip
    assert run(*add, stdin=PASSWORD)[0] == 0
    code, _, err = run(*add, stdin=PASSWORD)
    assert code == 2 and "already exists" in err
    code, _, err = run("users", "disable", "nobody@example.org")
    assert code == 2 and "no staff user" in err


def test_an_issued_card_prints_its_code_and_a_driver_links_it(data_dir: Path,
                                                              api: TestClient) -> None:  # fmt: skip
    code, out, _ = run("tokens", "issue", "04:aa:bb:cc:dd:ee:ff")
    assert code == 0
    verification = out.strip()
    assert len(verification) == 14
    signup = api.post("/api/v1/auth/signup", json={"email": "d@example.org", "name": "D",
                                                   "password": PASSWORD})  # fmt: skip
    driver = {"Authorization": f"Bearer {signup.json()['access_token']}"}
    wrong = api.post("/api/v1/me/id-tokens", headers=driver,
                     json={"uid": "04AABBCCDDEEFF", "verification_code": "0000-0000-0000"})
    assert wrong.status_code == 409
    linked = api.post("/api/v1/me/id-tokens", headers=driver, json={
        "uid": "04AABBCCDDEEFF", "type": "Local", "verification_code": verification})
    assert linked.status_code == 201, linked.text
    code, _, err = run("tokens", "issue", "04AABBCCDDEEFF", "--type", "Central")
    assert code == 2 and "already registered" in err
    assert run("tokens", "issue", "0A0B0C0D")[0] == 0
    listed = [line.split("\t") for line in run("tokens", "list")[1].strip().splitlines()]
    account = me_account(api, driver)
    assert listed == [["04AABBCCDDEEFF", "ISO14443", "Accepted", account],
                      ["0A0B0C0D", "ISO14443", "Accepted", "issued"]]


def me_account(api: TestClient, headers: dict[str, str]) -> str:
    user_id = api.get("/api/v1/me", headers=headers).json()["user_id"]
    return f"driver.{user_id}"
