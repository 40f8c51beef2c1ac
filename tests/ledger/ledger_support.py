"""Ledger test backends: a `LedgerService` on memory or on a real database, plus a tamperer.

The tamperer edits stored rows the way an attacker with database access would: it lifts the
append-only triggers inside its own transaction, changes rows, and puts the triggers back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Connection, text

from evbill.ledger.hashing import StoredEntry
from evbill.ledger.merkle import DailyRoot
from evbill.ledger.repository import MemoryLedger
from evbill.ledger.service import LedgerService
from evbill.ledger.store import SqlLedgerRepository, sql_unit_of_work
from evbill.ledger.tables import APPEND_ONLY_TABLES, append_only_ddl, drop_append_only_ddl
from evbill.store import Database

#: Which table holds each hashed field in the SQL store.
HEADER_FIELDS = {"idempotency_key", "kind", "reference", "reverses", "occurred_at"}
ENTRY_COLUMNS = ("transaction_id", "account", "amount", "currency", "prev_hash", "hash")


class Backend(Protocol):
    service: LedgerService

    def reset(self) -> None: ...
    def stored(self) -> list[StoredEntry]: ...
    def edit(self, seq: int, field: str, value: str) -> None: ...
    def edit_root(self, day: str, root: str) -> None: ...
    def delete(self, seq: int) -> None: ...
    def insert_copy(self, source: int, at: int) -> None: ...
    def swap(self, a: int, b: int) -> None: ...


@dataclass
class MemoryBackend:
    ledger: MemoryLedger
    service: LedgerService

    def reset(self) -> None:
        self.ledger = MemoryLedger()
        self.service = LedgerService(self.ledger.unit_of_work)

    def stored(self) -> list[StoredEntry]:
        return list(self.ledger.entries)

    def _index(self, seq: int) -> int:
        return next(i for i, e in enumerate(self.ledger.entries) if e.seq == seq)

    def edit(self, seq: int, field: str, value: str) -> None:
        i = self._index(seq)
        self.ledger.entries[i] = self.ledger.entries[i]._replace(**{field: value})

    def edit_root(self, day: str, root: str) -> None:
        old = self.ledger.daily_roots[day]
        self.ledger.daily_roots[day] = DailyRoot(day, old.entry_count, root)

    def delete(self, seq: int) -> None:
        del self.ledger.entries[self._index(seq)]

    def insert_copy(self, source: int, at: int) -> None:
        copy = self.ledger.entries[self._index(source)]
        entries = self.ledger.entries
        shifted = [e._replace(seq=e.seq + 1) if e.seq >= at else e for e in entries]
        shifted.insert(at - 1, copy._replace(seq=at))
        self.ledger.entries[:] = shifted

    def swap(self, a: int, b: int) -> None:
        entries = self.ledger.entries
        i, j = self._index(a), self._index(b)
        entries[i], entries[j] = entries[j]._replace(seq=a), entries[i]._replace(seq=b)


class SqlBackend:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.dialect = db.backend
        self.service = LedgerService(sql_unit_of_work(db))

    def _tamper(self) -> Connection:
        conn = self.db.engine.connect()
        conn.begin()
        if self.dialect == "postgresql":
            for table in APPEND_ONLY_TABLES:
                conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only"))
        else:
            for statement in drop_append_only_ddl(self.dialect):
                conn.execute(text(statement))
        return conn

    def _done(self, conn: Connection) -> None:
        if self.dialect == "postgresql":
            for table in APPEND_ONLY_TABLES:
                conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only"))
        else:
            for statement in append_only_ddl(self.dialect):
                conn.execute(text(statement))
        conn.commit()
        conn.close()

    def reset(self) -> None:
        conn = self._tamper()
        for table in (*APPEND_ONLY_TABLES[::-1], "ledger_chain_head"):
            conn.execute(text(f"DELETE FROM {table}"))
        self._done(conn)

    def stored(self) -> list[StoredEntry]:
        with self.db.sessions() as session:
            return list(SqlLedgerRepository(session).stream_entries())

    def edit(self, seq: int, field: str, value: str) -> None:
        conn = self._tamper()
        if field in HEADER_FIELDS:
            conn.execute(text(
                f"UPDATE ledger_transactions SET {field} = :v WHERE id = "
                "(SELECT transaction_id FROM ledger_entries WHERE seq = :s)"),
                {"v": value, "s": seq})
        else:
            conn.execute(text(f"UPDATE ledger_entries SET {field} = :v WHERE seq = :s"),
                         {"v": value, "s": seq})
        self._done(conn)

    def edit_root(self, day: str, root: str) -> None:
        conn = self._tamper()
        conn.execute(text("UPDATE ledger_daily_roots SET root = :r WHERE day = :d"),
                     {"r": root, "d": day})
        self._done(conn)

    def delete(self, seq: int) -> None:
        conn = self._tamper()
        conn.execute(text("DELETE FROM ledger_entries WHERE seq = :s"), {"s": seq})
        self._done(conn)

    def insert_copy(self, source: int, at: int) -> None:
        conn = self._tamper()
        cols = ", ".join(ENTRY_COLUMNS)
        row = conn.execute(text(f"SELECT {cols} FROM ledger_entries WHERE seq = :s"),
                           {"s": source}).one()
        # Two steps so no intermediate row collides on the primary key.
        conn.execute(text("UPDATE ledger_entries SET seq = -(seq + 1) WHERE seq >= :at"),
                     {"at": at})
        conn.execute(text("UPDATE ledger_entries SET seq = -seq WHERE seq < 0"))
        params = dict(zip(ENTRY_COLUMNS, row, strict=True)) | {"seq": at}
        conn.execute(text(f"INSERT INTO ledger_entries (seq, {cols}) VALUES (:seq, "
                          + ", ".join(f":{c}" for c in ENTRY_COLUMNS) + ")"), params)
        self._done(conn)

    def swap(self, a: int, b: int) -> None:
        conn = self._tamper()
        cols = ", ".join(ENTRY_COLUMNS)
        rows = {s: conn.execute(text(f"SELECT {cols} FROM ledger_entries WHERE seq = :s"),
                                {"s": s}).one() for s in (a, b)}
        assignments = ", ".join(f"{c} = :{c}" for c in ENTRY_COLUMNS)
        for target, source in ((a, b), (b, a)):
            params = dict(zip(ENTRY_COLUMNS, rows[source], strict=True)) | {"s": target}
            conn.execute(text(f"UPDATE ledger_entries SET {assignments} WHERE seq = :s"), params)
        self._done(conn)
