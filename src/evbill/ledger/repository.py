"""The ledger's storage port (`LedgerRepository`, `LedgerUnitOfWork`) and an in-memory adapter.

The service talks only to these protocols; `evbill.ledger.store` implements them on SQLAlchemy
and `MemoryLedger` here keeps everything in lists (tests, demos). A unit of work is entered,
takes the chain-head lock with `lock_head`, and writes nothing until `commit`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from types import TracebackType
from typing import Protocol, Self

from evbill.ledger.errors import ConcurrentAppend
from evbill.ledger.hashing import ChainHead, StoredEntry
from evbill.ledger.merkle import DailyRoot

__all__ = [
    "LedgerRepository",
    "LedgerUnitOfWork",
    "MemoryLedger",
    "MemoryUnitOfWork",
    "UnitOfWorkFactory",
]


class LedgerRepository(Protocol):
    def lock_head(self) -> ChainHead:
        """Read the chain head and hold it until the unit of work ends (serializes writers)."""

    def head(self) -> ChainHead: ...

    def entries_of_key(self, idempotency_key: str) -> Sequence[StoredEntry]: ...

    def entries_of_transaction(self, transaction_id: str) -> Sequence[StoredEntry]: ...

    def append(self, entries: Sequence[StoredEntry], expected: ChainHead) -> None:
        """Write a transaction's chained entries; `ConcurrentAppend` if the head moved."""

    def root(self, day: str) -> DailyRoot | None: ...

    def add_root(self, root: DailyRoot) -> None: ...

    def roots(self) -> Sequence[DailyRoot]: ...

    def day_hashes(self, day: str) -> list[str]:
        """Entry hashes of one UTC day, in sequence order."""

    def stream_entries(self, batch_size: int = 10_000) -> Iterator[StoredEntry]:
        """Every entry in stored sequence order, streamed."""

    def entry_count(self) -> int: ...

    def transaction_count(self) -> int: ...

    def amounts(self) -> Iterator[tuple[str, str, Decimal]]:
        """`(account, currency, signed amount)` of every entry (for the trial balance)."""


class LedgerUnitOfWork(Protocol):
    @property
    def repo(self) -> LedgerRepository: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    """Opens a unit of work; `snapshot=True` asks for one consistent read view."""

    def __call__(self, *, snapshot: bool = False) -> LedgerUnitOfWork: ...


@dataclass
class MemoryLedger:
    """All ledger state in memory; tests may edit `entries` to simulate tampering."""

    entries: list[StoredEntry] = field(default_factory=list)
    daily_roots: dict[str, DailyRoot] = field(default_factory=dict)
    chain_head: ChainHead = field(default_factory=ChainHead)
    extra_transactions: int = 0  # headers with no entries (tamper simulation)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def unit_of_work(self, *, snapshot: bool = False) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self)


class _MemoryRepository:
    def __init__(self, ledger: MemoryLedger) -> None:
        self._ledger = ledger
        self._pending: list[StoredEntry] = []
        self._pending_roots: dict[str, DailyRoot] = {}
        self._head: ChainHead | None = None
        self.locks_held = 0

    def _all(self) -> list[StoredEntry]:
        return [*self._ledger.entries, *self._pending]

    def lock_head(self) -> ChainHead:
        self._ledger.lock.acquire()
        self.locks_held += 1
        self._head = self._head or self._ledger.chain_head
        return self._head

    def head(self) -> ChainHead:
        return self._head or self._ledger.chain_head

    def entries_of_key(self, idempotency_key: str) -> Sequence[StoredEntry]:
        return [e for e in self._all() if e.idempotency_key == idempotency_key]

    def entries_of_transaction(self, transaction_id: str) -> Sequence[StoredEntry]:
        return [e for e in self._all() if e.transaction_id == transaction_id]

    def append(self, entries: Sequence[StoredEntry], expected: ChainHead) -> None:
        if self.head() != expected:
            raise ConcurrentAppend(f"chain head moved from entry {expected.seq}")
        self._pending.extend(entries)
        self._head = ChainHead(entries[-1].seq, entries[-1].hash)

    def root(self, day: str) -> DailyRoot | None:
        return self._pending_roots.get(day) or self._ledger.daily_roots.get(day)

    def add_root(self, root: DailyRoot) -> None:
        self._pending_roots[root.day] = root

    def roots(self) -> Sequence[DailyRoot]:
        merged = {**self._ledger.daily_roots, **self._pending_roots}
        return [merged[day] for day in sorted(merged)]

    def day_hashes(self, day: str) -> list[str]:
        return [e.hash for e in self._all() if e.day == day]

    def stream_entries(self, batch_size: int = 10_000) -> Iterator[StoredEntry]:
        yield from self._all()

    def entry_count(self) -> int:
        return len(self._all())

    def transaction_count(self) -> int:
        distinct = {e.transaction_id for e in self._all()}
        return len(distinct) + self._ledger.extra_transactions

    def amounts(self) -> Iterator[tuple[str, str, Decimal]]:
        for e in self._all():
            yield e.account, e.currency, Decimal(e.amount)

    def publish(self) -> None:
        self._ledger.entries.extend(self._pending)
        self._ledger.daily_roots.update(self._pending_roots)
        if self._head is not None:
            self._ledger.chain_head = self._head
        self.discard()

    def discard(self) -> None:
        self._pending, self._pending_roots, self._head = [], {}, None


class MemoryUnitOfWork:
    """A unit of work over a `MemoryLedger`: writes are staged and published on commit."""

    def __init__(self, ledger: MemoryLedger) -> None:
        self._ledger = ledger
        self._repo = _MemoryRepository(ledger)
        self.repo: LedgerRepository = self._repo

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._repo.discard()
        self._release()

    def commit(self) -> None:
        self._repo.publish()

    def _release(self) -> None:
        while self._repo.locks_held:
            self._ledger.lock.release()
            self._repo.locks_held -= 1
