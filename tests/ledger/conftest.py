"""Ledger fixtures: a service on memory, or on SQLite and PostgreSQL via `database_url`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from evbill.ledger.repository import MemoryLedger
from evbill.ledger.service import LedgerService
from evbill.store import Database

from .ledger_support import MemoryBackend, SqlBackend


@pytest.fixture
def memory_backend() -> MemoryBackend:
    ledger = MemoryLedger()
    return MemoryBackend(ledger, LedgerService(ledger.unit_of_work))


@pytest.fixture
def sql_backend(database_url: str) -> Iterator[SqlBackend]:
    db = Database.open(database_url)
    try:
        backend = SqlBackend(db)
        backend.reset()
        yield backend
    finally:
        db.dispose()
