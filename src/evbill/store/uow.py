"""The unit of work: one database transaction with the repositories bound to it.

A service method opens one, does its reads and writes through the repositories, and calls
`commit()` once before it answers; leaving the block without a commit rolls everything back.
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.orm import Session

from evbill.store.database import Database
from evbill.store.repositories import (
    CdrRepository,
    ProcessedCommandRepository,
    SessionRepository,
    StationRepository,
    TariffRepository,
    TokenRepository,
)

__all__ = ["UnitOfWork"]


class UnitOfWork:
    """`with UnitOfWork(db) as uow: ...; uow.commit()` (`read_only=True` for queries).

    `snapshot=False` (reads only) runs each query on its own, outside a transaction: no
    BEGIN/ROLLBACK round trips, for polled views whose reads need not share one snapshot."""

    session: Session
    stations: StationRepository
    tokens: TokenRepository
    tariffs: TariffRepository
    sessions: SessionRepository
    cdrs: CdrRepository
    commands: ProcessedCommandRepository

    def __init__(self, db: Database, *, read_only: bool = False, snapshot: bool = True) -> None:
        if not snapshot and not read_only:
            raise ValueError("snapshot=False is for read-only units of work")
        self._db = db
        self._read_only = read_only
        self._snapshot = snapshot

    def __enter__(self) -> UnitOfWork:
        if not self._snapshot:
            factory = self._db.quick_reads
        elif self._read_only:
            factory = self._db.read_sessions
        else:
            factory = self._db.sessions
        self.session = factory()
        self.stations = StationRepository(self.session)
        self.tokens = TokenRepository(self.session)
        self.tariffs = TariffRepository(self.session)
        self.sessions = SessionRepository(self.session)
        self.cdrs = CdrRepository(self.session)
        self.commands = ProcessedCommandRepository(self.session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.session.rollback()  # no-op after commit(); discards anything uncommitted
        finally:
            self.session.close()

    @property
    def backend(self) -> str:
        return self._db.backend

    def flush(self) -> None:
        self.session.flush()

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()
