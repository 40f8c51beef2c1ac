"""Engines and sessions: one `Database` per process, from a URL, with per-backend settings.

SQLite gets foreign keys, WAL and a busy timeout so that the gateway and an operator CLI can
share the file; PostgreSQL gets a pool that pings connections which sat idle.
`Database.open()` refuses a database whose migrations are behind (see `evbill.store.migrate`).

Durability: SQLite runs WAL with `synchronous=NORMAL`. A COMMIT is then written to the WAL
without an fsync, so a committed (and acknowledged) transaction survives a crash or SIGKILL
of the process, and only an operating-system crash or power cut can lose the last commits
(the file stays consistent). `FULL` would fsync every commit; with group commit that cost is
per batch, but we keep NORMAL, the usual choice for WAL. PostgreSQL keeps the server's
`synchronous_commit` (on): an acknowledged message is on disk there.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["READ_OPTION", "WRITE_OPTION", "Database", "make_engine"]

#: Execution option marking a connection that will write (SQLite: BEGIN IMMEDIATE).
WRITE_OPTION = "evbill_write"
#: Execution option marking a connection for independent reads without a transaction
#: (SQLite: no BEGIN; PostgreSQL uses the AUTOCOMMIT isolation level instead).
READ_OPTION = "evbill_autocommit_read"

log = logging.getLogger(__name__)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Driver-level autocommit: SQLAlchemy's "begin" hook below emits BEGIN IMMEDIATE, so a
    # unit of work takes the write lock up front instead of failing on a lock upgrade.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    # Reads through the OS page cache shared by all connections instead of a copy per
    # connection (SQLite's default page cache is 2 MB each): history pages over a large
    # file cost about 40 % less.
    cursor.execute("PRAGMA mmap_size=268435456")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # Writers take the lock at BEGIN (no deadlock on upgrade); readers never wait for them.
    options = conn.get_execution_options()
    if options.get(READ_OPTION, False):
        return
    conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get(WRITE_OPTION, False) else "BEGIN")


def _private_file(path: Path) -> None:
    """Create the SQLite file (and a missing data directory) readable by its owner only:
    SQLite gives its -wal and -shm files the database file's mode, so they follow."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for `url`; creates the SQLite file's directory when needed."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            _private_file(Path(parsed.database))
        # Enough pooled connections for the API's handler threads and the gateway's writer,
        # so connections are reused, not opened (and their pragmas re-run) per request.
        engine = create_engine(
            url, echo=echo, connect_args={"check_same_thread": False, "timeout": 15},
            pool_size=16, max_overflow=16,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    engine = create_engine(url, echo=echo, pool_size=10, max_overflow=20)
    event.listen(engine, "checkin", _note_idle)
    event.listen(engine, "checkout", _ping_if_idle)
    return engine


#: A pooled PostgreSQL connection idle longer than this is pinged before it is handed out.
PING_AFTER_IDLE_S = 10.0


def _note_idle(_dbapi_connection: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Pessimistic disconnect handling, but only for connections that sat idle: a server
    restart is noticed before a request uses a dead connection, while a busy pool (the API
    under load) pays no extra round trip per checkout, as `pool_pre_ping` would."""
    idle_since = record.info.get("idle_since")
    if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
        return
    try:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        dbapi_connection.rollback()  # end the ping's transaction: the caller sets the mode
    except Exception as exc:  # the pool replaces the connection and tries again
        log.warning("db.stale_connection reconnecting error=%s", exc.__class__.__name__)
        raise DisconnectionError() from exc


class Database:
    """An engine and its session factories: `sessions` for writing, `read_sessions` for reads."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions: sessionmaker[Session] = sessionmaker(
            bind=engine.execution_options(**{WRITE_OPTION: True}),
            expire_on_commit=False,
            autoflush=False,
        )
        self.read_sessions: sessionmaker[Session] = sessionmaker(
            bind=engine, expire_on_commit=False, autoflush=False
        )
        if engine.dialect.name == "sqlite":
            self._reads = engine.execution_options(**{READ_OPTION: True})
        else:
            self._reads = engine.execution_options(isolation_level="AUTOCOMMIT")

        #: ORM sessions on those connections (`UnitOfWork(db, read_only=True, snapshot=False)`).
        self.quick_reads: sessionmaker[Session] = sessionmaker(
            bind=self._reads, expire_on_commit=False, autoflush=False
        )

    def reader(self) -> Connection:
        """A pooled connection for a few independent reads, outside any transaction: no
        BEGIN/ROLLBACK round trips, each statement sees the latest committed data. For the
        API's hot read paths; use it as a context manager (`with db.reader() as conn:`)."""
        return self._reads.connect()

    @classmethod
    def open(cls, url: str, *, check_schema: bool = True, echo: bool = False) -> Database:
        """Connect to `url`; raise `SchemaBehind` unless the schema is at the code's head."""
        engine = make_engine(url, echo=echo)
        if check_schema:
            from evbill.store.migrate import check_schema as _check

            try:
                _check(engine)
            except Exception:
                engine.dispose()
                raise
        return cls(engine)

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()
