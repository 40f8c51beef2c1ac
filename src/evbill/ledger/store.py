"""SQLAlchemy adapter of the ledger port: repository and unit of work on SQLite/PostgreSQL.

Writers serialize on the chain-head row: `SELECT … FOR UPDATE` on PostgreSQL; on SQLite the
store's `BEGIN IMMEDIATE` already makes every unit of work the single writer. The head update
is also a compare-and-set, so even a writer that skipped the lock could not fork the chain.
Verification reads in one REPEATABLE READ snapshot on PostgreSQL and streams rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date, timedelta
from decimal import Decimal
from types import TracebackType
from typing import Any, Final, Self, cast

from sqlalchemy import Select, Table, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from evbill.ledger.errors import ConcurrentAppend
from evbill.ledger.hashing import GENESIS_HASH, ChainHead, StoredEntry, restore_transaction
from evbill.ledger.journal import Transaction
from evbill.ledger.merkle import DailyRoot
from evbill.ledger.repository import UnitOfWorkFactory
from evbill.ledger.service import append_transaction
from evbill.ledger.tables import ChainHeadRow, DailyRootRow, EntryRow, TransactionRow
from evbill.store.database import Database

__all__ = ["SqlLedgerRepository", "SqlLedgerUnitOfWork", "post_within", "sql_unit_of_work"]

E = cast(Table, EntryRow.__table__)
T = cast(Table, TransactionRow.__table__)
_HEAD_ID = 1

#: Columns in `StoredEntry` field order, so a row becomes an entry positionally.
_ENTRY_COLUMNS = (
    E.c.seq, E.c.transaction_id, T.c.idempotency_key, T.c.kind, T.c.reference, T.c.reverses,
    T.c.occurred_at, E.c.account, E.c.amount, E.c.currency, E.c.prev_hash, E.c.hash,
)


def _entries_query() -> Select[Any]:
    # Outer join: an entry whose header vanished still shows up (and fails its hash).
    return select(*_ENTRY_COLUMNS).select_from(E.outerjoin(T, E.c.transaction_id == T.c.id))


def _entry(row: Sequence[Any]) -> StoredEntry:
    values: list[Any] = ["" if value is None else value for value in row]
    return StoredEntry(*values)


_NO_HEADER: Final = ("", "", "", "", "", "")


def merge_headers(
    entries: Iterable[Sequence[Any]], headers: Iterator[Sequence[Any]]
) -> Iterator[StoredEntry]:
    """Attach each entry its transaction header; both streams are in chain order.

    An entry whose header is not the next one in order (deleted, reordered, edited id) gets
    empty header fields, so its hash fails and verify names it.
    """
    current: Sequence[Any] = _NO_HEADER
    pending: Sequence[Any] | None = None
    for seq, txn_id, account, amount, currency, prev_hash, digest in entries:
        if current[0] != txn_id:
            if pending is None:
                pending = next(headers, None)
            if pending is not None and pending[0] == txn_id:
                current, pending = pending, None
            else:
                current = _NO_HEADER
        yield StoredEntry(seq, txn_id, current[1], current[2], current[3], current[4],
                          current[5], account, amount, currency, prev_hash, digest)


class SqlLedgerRepository:
    """The ledger repository on a SQLAlchemy `Session` (usable inside another unit of work)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    @property
    def _dialect(self) -> str:
        return self.session.get_bind().dialect.name

    def _ensure_head_row(self) -> None:
        values = {"id": _HEAD_ID, "last_seq": 0, "last_hash": GENESIS_HASH}
        stmt: Any
        if self._dialect == "postgresql":
            stmt = postgresql.insert(ChainHeadRow).values(values).on_conflict_do_nothing()
        else:
            stmt = sqlite.insert(ChainHeadRow).values(values).on_conflict_do_nothing()
        self.session.execute(stmt)

    def lock_head(self) -> ChainHead:
        query = (select(ChainHeadRow.last_seq, ChainHeadRow.last_hash)
                 .where(ChainHeadRow.id == _HEAD_ID).with_for_update())
        row = self.session.execute(query).one_or_none()
        if row is None:  # first posting ever (or an emptied test database)
            self._ensure_head_row()
            row = self.session.execute(query).one()
        return ChainHead(row.last_seq, row.last_hash)

    def head(self) -> ChainHead:
        row = self.session.execute(
            select(ChainHeadRow.last_seq, ChainHeadRow.last_hash).where(ChainHeadRow.id == _HEAD_ID)
        ).one_or_none()
        return ChainHead() if row is None else ChainHead(row.last_seq, row.last_hash)

    def entries_of_key(self, idempotency_key: str) -> Sequence[StoredEntry]:
        stmt = _entries_query().where(T.c.idempotency_key == idempotency_key).order_by(E.c.seq)
        return [_entry(row) for row in self.session.execute(stmt)]

    def entries_of_transaction(self, transaction_id: str) -> Sequence[StoredEntry]:
        stmt = _entries_query().where(E.c.transaction_id == transaction_id).order_by(E.c.seq)
        return [_entry(row) for row in self.session.execute(stmt)]

    def append(self, entries: Sequence[StoredEntry], expected: ChainHead) -> None:
        first, last = entries[0], entries[-1]
        self.session.execute(insert(T), [{
            "id": first.transaction_id, "idempotency_key": first.idempotency_key,
            "kind": first.kind, "reference": first.reference, "reverses": first.reverses,
            "occurred_at": first.occurred_at, "first_seq": first.seq,
        }])
        self.session.execute(insert(E), [{
            "seq": e.seq, "transaction_id": e.transaction_id, "account": e.account,
            "amount": e.amount, "currency": e.currency, "prev_hash": e.prev_hash, "hash": e.hash,
        } for e in entries])
        moved = self.session.execute(
            update(ChainHeadRow)
            .where(ChainHeadRow.id == _HEAD_ID, ChainHeadRow.last_seq == expected.seq,
                   ChainHeadRow.last_hash == expected.hash)
            .values(last_seq=last.seq, last_hash=last.hash)
        )
        if getattr(moved, "rowcount", 0) != 1:
            raise ConcurrentAppend(f"chain head moved away from entry {expected.seq}")

    def root(self, day: str) -> DailyRoot | None:
        row = self.session.get(DailyRootRow, day)
        return None if row is None else DailyRoot(row.day, row.entry_count, row.root)

    def add_root(self, root: DailyRoot) -> None:
        self.session.execute(insert(DailyRootRow).values(
            day=root.day, entry_count=root.entry_count, root=root.root))

    def roots(self) -> Sequence[DailyRoot]:
        rows = self.session.execute(select(DailyRootRow).order_by(DailyRootRow.day)).scalars()
        return [DailyRoot(r.day, r.entry_count, r.root) for r in rows]

    def day_hashes(self, day: str) -> list[str]:
        following = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
        stmt = (
            select(E.c.hash)
            .select_from(E.join(T, E.c.transaction_id == T.c.id))
            .where(T.c.occurred_at >= day, T.c.occurred_at < following)
            .order_by(E.c.seq)
        )
        return list(self.session.execute(stmt).scalars())

    def stream_entries(self, batch_size: int = 10_000) -> Iterator[StoredEntry]:
        """Entries by seq merged with headers by first_seq: two streams, no join to sort."""
        conn = self.session.connection()
        entries = conn.execution_options(stream_results=True, yield_per=batch_size).execute(
            select(E.c.seq, E.c.transaction_id, E.c.account, E.c.amount, E.c.currency,
                   E.c.prev_hash, E.c.hash).order_by(E.c.seq))
        headers = conn.execution_options(stream_results=True, yield_per=batch_size).execute(
            select(T.c.id, T.c.idempotency_key, T.c.kind, T.c.reference, T.c.reverses,
                   T.c.occurred_at).order_by(T.c.first_seq))
        yield from merge_headers(entries, iter(headers))

    def entry_count(self) -> int:
        return int(self.session.execute(select(func.count()).select_from(E)).scalar_one())

    def transaction_count(self) -> int:
        return int(self.session.execute(select(func.count()).select_from(T)).scalar_one())

    def amounts(self) -> Iterator[tuple[str, str, Decimal]]:
        result = self.session.execute(
            select(E.c.account, E.c.currency, E.c.amount), execution_options={"yield_per": 10_000}
        )
        for account, currency, amount in result:
            yield account, currency, Decimal(amount)


class SqlLedgerUnitOfWork:
    """One database transaction for one ledger operation; nothing is kept without `commit`."""

    repo: SqlLedgerRepository

    def __init__(self, db: Database, *, snapshot: bool = False) -> None:
        self._db = db
        self._snapshot = snapshot

    def __enter__(self) -> Self:
        self.session = self._db.sessions()
        if self._snapshot and self._db.backend == "postgresql":
            self.session.connection(
                execution_options={"isolation_level": "REPEATABLE READ"}
            )
        self.repo = SqlLedgerRepository(self.session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.session.rollback()
        finally:
            self.session.close()

    def commit(self) -> None:
        self.session.commit()


def sql_unit_of_work(db: Database) -> UnitOfWorkFactory:
    """A unit-of-work factory for `LedgerService` (`snapshot=True` for consistent reads)."""

    def factory(*, snapshot: bool = False) -> SqlLedgerUnitOfWork:
        return SqlLedgerUnitOfWork(db, snapshot=snapshot)

    return factory


def post_within(session: Session, txn: Transaction) -> Transaction:
    """Append `txn` inside the caller's database transaction, so it commits (or rolls back)
    with the caller's own writes; the chain head stays locked until the caller commits.
    Idempotent like `LedgerService.post`: a key already stored returns its transaction
    (checked before the head lock, so a repeat takes no lock)."""
    repo = SqlLedgerRepository(session)
    existing = repo.entries_of_key(txn.idempotency_key)
    if existing:
        return restore_transaction(existing)
    return append_transaction(repo, txn)[0]
