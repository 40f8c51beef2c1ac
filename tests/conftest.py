"""Shared fixtures: a migrated, empty database on SQLite and on PostgreSQL for every test.

`database_url` is parametrized (`sqlite`, `postgresql`). Each pytest process creates its
own PostgreSQL database (`evbill_test_<pid>_<random>`, through the `test` database) and
drops it at the end, so engineers running tests at the same time never collide; tables
are emptied between tests. When PostgreSQL cannot be reached, postgres tests FAIL.
Override the server with EVBILL_TEST_POSTGRES_URL (a URL to an existing database).
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from evbill.store.database import Database
from evbill.store.migrate import ensure_schema

#: A configured test issuer (outside the demo the placeholder issuer is refused at start-up);
#: set before any settings are read, inherited by the `evbill serve` processes tests start.
TEST_ISSUER = {
    "EVBILL_INVOICE_ISSUER_NAME": "Voltway Test Charging GmbH",
    "EVBILL_INVOICE_ISSUER_STREET": "Schillerstraße 12",
    "EVBILL_INVOICE_ISSUER_POSTCODE": "10625",
    "EVBILL_INVOICE_ISSUER_CITY": "Berlin",
    "EVBILL_INVOICE_ISSUER_COUNTRY": "DE",
    "EVBILL_INVOICE_ISSUER_VAT_ID": "DE123456789",
    "EVBILL_INVOICE_ISSUER_IBAN": "DE02120300000000202051",
}
for _name, _value in TEST_ISSUER.items():
    os.environ.setdefault(_name, _value)

_ADMIN_URLS = (
    [os.environ["EVBILL_TEST_POSTGRES_URL"]]
    if os.environ.get("EVBILL_TEST_POSTGRES_URL")
    else [
        "postgresql+psycopg://root@127.0.0.1:5432/test",
        "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    ]
)
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


class PostgresServer:
    """Creates and drops this process's databases on the PostgreSQL server."""

    def __init__(self) -> None:
        errors: list[str] = []
        for url in _ADMIN_URLS:
            engine = create_engine(url, isolation_level="AUTOCOMMIT")
            try:
                with engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
            except Exception as exc:
                errors.append(f"{make_url(url).render_as_string()}: {exc.__class__.__name__}")
                engine.dispose()
                continue
            self.admin = engine
            self.base_url = make_url(url)
            self.created: list[str] = []
            return
        pytest.fail(
            "PostgreSQL is unreachable (the postgres-parametrized tests need it at "
            "127.0.0.1:5432, or set EVBILL_TEST_POSTGRES_URL): " + "; ".join(errors),
            pytrace=False,
        )

    def create_database(self, label: str) -> str:
        name = f"evbill_test_{os.getpid()}_{secrets.token_hex(4)}_{label}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return self.base_url.set(database=name).render_as_string(hide_password=False)

    def drop_database(self, url: str) -> None:
        name = make_url(url).database
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if name in self.created:
            self.created.remove(name)

    def close(self) -> None:
        for name in list(self.created):
            with self.admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


_server: PostgresServer | None = None


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    global _server
    if _server is None:
        _server = PostgresServer()
    yield _server


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _server is not None:
        _server.close()


@pytest.fixture(scope="session")
def _postgres_migrated_url(postgres_server: PostgresServer) -> str:
    url = postgres_server.create_database("main")
    ensure_schema(url)
    return url


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "evbill.sqlite3"
    ensure_schema(f"sqlite+pysqlite:///{path}")
    return path


def _truncate_all(url: str) -> None:
    """Empty every table the migrations made (whoever's models they are), keep the schema."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            names = conn.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                "AND tablename <> 'alembic_version'"
            )).scalars().all()  # fmt: skip
            if names:
                tables = ", ".join(f'"{name}"' for name in names)
                conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of a migrated, empty database (a fresh SQLite file, or this process's PG database)."""
    if request.param == "sqlite":
        path = tmp_path / "evbill.sqlite3"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        return f"sqlite+pysqlite:///{path}"
    url: str = request.getfixturevalue("_postgres_migrated_url")
    _truncate_all(url)
    return url


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a database with no tables at all (for migration tests)."""
    if request.param == "sqlite":
        yield f"sqlite+pysqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create_database("empty")
    try:
        yield url
    finally:
        server.drop_database(url)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """An open `Database` on `database_url` (schema checked)."""
    database = Database.open(database_url)
    try:
        yield database
    finally:
        database.dispose()
