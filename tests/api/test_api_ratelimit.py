"""The sign-in limiter keeps its window in the database: every app (API process) on one
database counts the same failures; the window slides, success clears the email, refused
attempts are not counted, expired rows are pruned, racing attempts never exceed the limit."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from api_world import PASSWORD, T0, Clock, api_settings
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from evbill.accounts.roles import Role
from evbill.api.app import create_app
from evbill.api.context import ApiContext
from evbill.api.ratelimit import LoginLimiter
from evbill.api.tables import LoginFailureRow
from evbill.api.users import users_of
from evbill.config import Settings
from evbill.payments.providers.sandbox import SandboxProvider
from evbill.store.database import Database

PROBLEM = "application/problem+json"
PEPPER = b"limiter-test-pepper"
EMAIL, IP = "email:lookup-of-ana", "ip:10.0.0.1"


def _rows(db: Database) -> int:
    with db.read_sessions() as s:
        return s.scalar(select(func.count()).select_from(LoginFailureRow)) or 0


def _fail(limiter: LoginLimiter, keys: list[str], at: timedelta) -> None:
    """One wrong password at T0 + `at` (an admitted attempt that is never withdrawn)."""
    attempt = limiter.attempt(keys, T0 + at)
    assert attempt.retry_after == 0


@pytest.fixture
def limiter(db: Database) -> LoginLimiter:
    return LoginLimiter(db, attempts=3, window_s=60, pepper=PEPPER)


# --- two apps (two API processes) on one database -----------------------------------------


@pytest.fixture
def two_apps(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, TestClient]]:
    """Two apps, each with its own `Database` (engine, pool) on the same database, like two
    uvicorn workers; requests come from different client addresses."""
    clock = Clock(T0)
    dbs = [Database.open(database_url), Database.open(database_url)]
    apps = [create_app(Settings(data_dir=tmp_path), api_settings=api_settings(), db=db,
                       clock=clock, provider=SandboxProvider(clock=clock, namespace="t"))
            for db in dbs]  # fmt: skip
    ctx: ApiContext = apps[0].state.evbill
    users_of(ctx).create("ana@example.org", PASSWORD, "Ana", Role.DRIVER)
    try:
        with TestClient(apps[0], client=("10.0.0.1", 1)) as a, \
                TestClient(apps[1], client=("10.0.0.2", 1)) as b:  # fmt: skip
            yield a, b
    finally:
        for db in dbs:
            db.dispose()


def _sign_in(client: TestClient, password: str, email: str = "ana@example.org") -> int:
    r = client.post("/api/v1/auth/token", json={"email": email, "password": password})
    return r.status_code


def test_failures_on_two_apps_count_together_for_one_email(
    two_apps: tuple[TestClient, TestClient],
) -> None:
    a, b = two_apps
    assert [_sign_in(a, "wrong one"), _sign_in(b, "wrong two"), _sign_in(a, "wrong 3")] == \
        [401, 401, 401]  # fmt: skip
    for client in (b, a):  # each app alone has seen at most two failures
        blocked = client.post("/api/v1/auth/token",
                              json={"email": "ana@example.org", "password": PASSWORD})
        assert blocked.status_code == 429 and blocked.headers["content-type"] == PROBLEM
        assert blocked.headers["retry-after"] == "60"  # all three failed at T0, window 60 s


def test_failures_on_two_apps_count_together_for_one_address(
    database_url: str, tmp_path: Path,
) -> None:
    clock = Clock(T0)
    dbs = [Database.open(database_url), Database.open(database_url)]
    try:
        apps = [create_app(Settings(data_dir=tmp_path), api_settings=api_settings(), db=db,
                           clock=clock, provider=SandboxProvider(clock=clock, namespace="t"))
                for db in dbs]  # fmt: skip
        with TestClient(apps[0], client=("10.9.9.9", 1)) as a, \
                TestClient(apps[1], client=("10.9.9.9", 2)) as b:  # fmt: skip
            codes = [_sign_in(a, "x", "u1@example.org"), _sign_in(b, "x", "u2@example.org"),
                     _sign_in(a, "x", "u3@example.org"), _sign_in(b, "x", "u4@example.org")]
        assert codes == [401, 401, 401, 429]
    finally:
        for db in dbs:
            db.dispose()


def test_the_window_slides_for_every_app(two_apps: tuple[TestClient, TestClient]) -> None:
    a, b = two_apps
    clock: Clock = a.app.state.evbill.clock  # type: ignore[attr-defined]
    for seconds in (0, 20, 40):
        clock.now = T0 + timedelta(seconds=seconds)
        assert _sign_in(a if seconds != 20 else b, "wrong") == 401
    clock.now = T0 + timedelta(seconds=59)
    blocked = b.post("/api/v1/auth/token", json={"email": "ana@example.org", "password": "w"})
    assert blocked.status_code == 429 and blocked.headers["retry-after"] == "1"
    clock.now = T0 + timedelta(seconds=60)  # the failure at T0 has left the window
    assert _sign_in(b, PASSWORD) == 200


# --- the limiter on its own (now passed in) ------------------------------------------------


def test_the_window_slides(limiter: LoginLimiter) -> None:
    for seconds in (0, 10, 20):
        _fail(limiter, [EMAIL], timedelta(seconds=seconds))
    assert limiter.retry_after([EMAIL], T0 + timedelta(seconds=30)) == 30
    assert limiter.attempt([EMAIL], T0 + timedelta(seconds=59.5)).retry_after == 1
    _fail(limiter, [EMAIL], timedelta(seconds=60))  # T0 aged out: a place is free
    assert limiter.attempt([EMAIL], T0 + timedelta(seconds=60)).retry_after == 10
    assert limiter.retry_after([EMAIL], T0 + timedelta(seconds=70)) == 0


def test_a_refused_attempt_is_not_counted(limiter: LoginLimiter, db: Database) -> None:
    for _ in range(3):
        _fail(limiter, [EMAIL, IP], timedelta(0))
    assert _rows(db) == 6
    for seconds in (1, 2, 3):
        refused = limiter.attempt([EMAIL, IP], T0 + timedelta(seconds=seconds))
        assert refused.retry_after == 60 - seconds and refused.attempt_id == ""
    assert _rows(db) == 6
    assert limiter.retry_after([EMAIL], T0 + timedelta(seconds=60)) == 0


def test_success_clears_the_email_but_not_the_address(limiter: LoginLimiter) -> None:
    _fail(limiter, [EMAIL, IP], timedelta(0))
    _fail(limiter, [EMAIL, IP], timedelta(0))
    ok = limiter.attempt([EMAIL, IP], T0)
    assert ok.retry_after == 0
    limiter.succeeded(ok, [EMAIL])
    # The email starts over: three more failures from elsewhere before it is blocked.
    for _ in range(3):
        _fail(limiter, [EMAIL, "ip:10.0.0.2"], timedelta(seconds=1))
    assert limiter.retry_after([EMAIL], T0 + timedelta(seconds=1)) == 60
    # The address keeps its two failures (the successful attempt itself is withdrawn).
    _fail(limiter, ["email:other", IP], timedelta(seconds=1))
    assert limiter.retry_after([IP], T0 + timedelta(seconds=1)) == 59


def test_a_successful_sign_in_is_not_a_failure(limiter: LoginLimiter, db: Database) -> None:
    for _ in range(5):
        ok = limiter.attempt([EMAIL, IP], T0)
        assert ok.retry_after == 0
        limiter.succeeded(ok, [EMAIL])
    assert _rows(db) == 0


def test_keys_are_stored_as_hmac(limiter: LoginLimiter, db: Database) -> None:
    _fail(limiter, [EMAIL, IP], timedelta(0))
    with db.read_sessions() as s:
        stored = set(s.scalars(select(LoginFailureRow.key_digest)))
    assert len(stored) == 2 and all(len(d) == 64 for d in stored)
    assert not any("10.0.0.1" in d or "lookup-of-ana" in d for d in stored)
    other = LoginLimiter(db, attempts=3, window_s=60, pepper=b"another pepper")
    _fail(other, [EMAIL, IP], timedelta(0))
    with db.read_sessions() as s:
        assert len(set(s.scalars(select(LoginFailureRow.key_digest)))) == 4


def test_pruning_removes_expired_rows_a_batch_at_a_time(
    limiter: LoginLimiter, db: Database,
) -> None:
    for n in range(5):
        _fail(limiter, [f"ip:10.0.1.{n}"], timedelta(seconds=n))
    assert _rows(db) == 5
    _fail(limiter, [IP], timedelta(seconds=63))  # rows at 0..3 s are out of the window
    assert _rows(db) == 2  # the one at 4 s and the new one
    limiter.PRUNE_BATCH = 2
    for n in range(5):
        _fail(limiter, [f"ip:10.0.2.{n}"], timedelta(seconds=100))
    assert _rows(db) == 6
    _fail(limiter, [IP], timedelta(seconds=200))  # 6 expired, at most 2 pruned per attempt
    assert _rows(db) == 5
    _fail(limiter, [IP], timedelta(seconds=200))
    assert _rows(db) == 4


def test_racing_attempts_from_two_databases_never_exceed_the_limit(database_url: str) -> None:
    """Eight attempts at once through two `Database`s (two processes' pools) with one place
    left: at most one is admitted, and every admitted one is counted."""
    dbs = [Database.open(database_url), Database.open(database_url)]
    try:
        limiters = [LoginLimiter(db, attempts=3, window_s=60, pepper=PEPPER) for db in dbs]
        _fail(limiters[0], [EMAIL], timedelta(0))
        _fail(limiters[1], [EMAIL], timedelta(0))
        barrier, admitted = threading.Barrier(8), []

        def attempt(n: int) -> None:
            barrier.wait()
            if limiters[n % 2].attempt([EMAIL], T0 + timedelta(seconds=1)).retry_after == 0:
                admitted.append(n)

        threads = [threading.Thread(target=attempt, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(admitted) <= 1
        assert _rows(dbs[0]) == 2 + len(admitted)
        # Both earlier failures count on either database; blocked once three are in.
        free = limiters[1].retry_after([EMAIL], T0 + timedelta(seconds=1))
        assert free == (59 if admitted else 0)
    finally:
        for db in dbs:
            db.dispose()


def test_concurrent_failures_on_two_databases_all_count(database_url: str) -> None:
    """Six failures at once through two `Database`s, with room for all: all six count."""
    dbs = [Database.open(database_url), Database.open(database_url)]
    try:
        limiters = [LoginLimiter(db, attempts=8, window_s=60, pepper=PEPPER) for db in dbs]
        barrier, waits = threading.Barrier(6), []

        def fail(n: int) -> None:
            barrier.wait()
            waits.append(limiters[n % 2].attempt([IP], T0).retry_after)

        threads = [threading.Thread(target=fail, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert waits == [0] * 6 and _rows(dbs[1]) == 6
        _fail(limiters[0], [IP], timedelta(0))
        _fail(limiters[1], [IP], timedelta(0))  # the eighth: now blocked on both
        assert [limiter.attempt([IP], T0).retry_after for limiter in limiters] == [60, 60]
    finally:
        for db in dbs:
            db.dispose()
