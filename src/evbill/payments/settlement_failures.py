"""Per-item isolation for settlement: a session whose settlement raises is recorded with its
error and retried with exponential back-off; after `max_attempts` it is dead-lettered (status
`dead`) and waits for the operator (`evbill payments failed`, `GET /api/v1/operator/settlement/
failures`), who can requeue it once the cause is fixed. Meanwhile every other session settles:
the passes skip items that are waiting or dead in their query, so none can block the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.exc import IntegrityError

from evbill.payments.tables import SettlementFailureRow
from evbill.store.database import Database

__all__ = ["DEAD", "RESOLVED", "RETRYING", "RetryPolicy", "SettlementFailures"]

log = logging.getLogger("evbill.payments")

RETRYING, DEAD, RESOLVED = "retrying", "dead", "resolved"
_ERROR_CHARS = 500


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Wait `first` after the first failure, doubling up to `longest`; dead after `attempts`."""

    first: timedelta = timedelta(seconds=10)
    longest: timedelta = timedelta(hours=1)
    attempts: int = 8

    def delay(self, attempt: int) -> timedelta:
        wait: timedelta = self.first * (2 ** max(attempt - 1, 0))
        return min(wait, self.longest)


class SettlementFailures:
    def __init__(self, db: Database, clock: Callable[[], datetime],
                 policy: RetryPolicy | None = None) -> None:
        self.db = db
        self.clock = clock
        self.policy = policy or RetryPolicy()

    def blocked(self, reference: Any, now: datetime) -> Any:
        """SQL: the item under `reference` (a column) is dead or waiting for its next try."""
        return exists().where(
            SettlementFailureRow.reference == reference,
            or_(SettlementFailureRow.status == DEAD,
                and_(SettlementFailureRow.status == RETRYING,
                     SettlementFailureRow.next_attempt_at > now)))

    def waiting(self, reference: str) -> bool:
        """The item is dead or its back-off has not passed: leave it alone for now."""
        with self.db.read_sessions() as s:
            return bool(s.scalar(select(self.blocked(reference, self.clock()))))

    def retry_due(self, reference: Any, now: datetime) -> Any:
        """SQL: the item under `reference` failed before and its next try is due (a step
        after the charge, such as the receipt, may be what failed)."""
        return exists().where(
            SettlementFailureRow.reference == reference, SettlementFailureRow.status == RETRYING,
            SettlementFailureRow.next_attempt_at <= now)

    def run(self, reference: str, kind: str, station_id: str | None,
            settle: Callable[[], object]) -> bool:
        """Settle one item in isolation: True when it settled, False when it raised (recorded,
        to be retried or dead-lettered; the caller goes on with the next item)."""
        try:
            settle()
        except Exception as exc:  # any error of one item: recorded, never blocks the others
            self.record(reference, kind, station_id, exc)
            return False
        self.resolve(reference)
        return True

    def record(self, reference: str, kind: str, station_id: str | None,
               exc: BaseException) -> str:
        """Count a failed attempt; returns the item's status (`retrying` or `dead`)."""
        now = self.clock()
        error = f"{exc.__class__.__name__}: {exc}"[:_ERROR_CHARS]
        for _ in range(2):  # a concurrent first failure may win the insert: then update it
            with self.db.sessions() as s:
                row = s.get(SettlementFailureRow, reference, with_for_update=True)
                if row is None:
                    row = SettlementFailureRow(
                        reference=reference, kind=kind, station_id=station_id, status=RETRYING,
                        attempts=0, last_error="", first_failed_at=now, last_failed_at=now,
                        next_attempt_at=None, resolved_at=None)
                    s.add(row)
                elif row.status == RESOLVED:
                    row.attempts, row.first_failed_at, row.resolved_at = 0, now, None
                row.attempts += 1
                row.last_error, row.last_failed_at = error, now
                if row.attempts >= self.policy.attempts:
                    row.status, row.next_attempt_at = DEAD, None
                else:
                    row.status = RETRYING
                    row.next_attempt_at = now + self.policy.delay(row.attempts)
                status, attempts = row.status, row.attempts
                try:
                    s.commit()
                except IntegrityError:
                    s.rollback()
                    continue
            break
        log.warning("payments.settle_failed reference=%s kind=%s attempt=%d status=%s error=%s",
                    reference, kind, attempts, status, error)
        return status

    def resolve(self, reference: str) -> None:
        """The item settled: a failure on record is marked resolved (kept for the trail)."""
        with self.db.sessions() as s:
            s.execute(update(SettlementFailureRow).where(
                SettlementFailureRow.reference == reference,
                SettlementFailureRow.status != RESOLVED,
            ).values(status=RESOLVED, next_attempt_at=None, resolved_at=self.clock()))
            s.commit()

    def requeue(self, reference: str) -> bool:
        """The operator fixed the cause: try a dead (or waiting) item at the next pass."""
        with self.db.sessions() as s:
            done = s.execute(update(SettlementFailureRow).where(
                SettlementFailureRow.reference == reference,
                SettlementFailureRow.status != RESOLVED,
            ).values(status=RETRYING, attempts=0, next_attempt_at=self.clock()))
            s.commit()
        return bool(getattr(done, "rowcount", 0))

    def listing(self, statuses: tuple[str, ...] = (RETRYING, DEAD),
                stations: Any = None) -> list[SettlementFailureRow]:
        """Failures in `statuses`, newest first; `stations` (a select of ids) scopes them."""
        query = select(SettlementFailureRow).where(SettlementFailureRow.status.in_(statuses))
        if stations is not None:
            query = query.where(SettlementFailureRow.station_id.in_(stations))
        with self.db.read_sessions() as s:
            rows = list(s.scalars(query.order_by(SettlementFailureRow.last_failed_at.desc())
                                  .limit(500)))
            s.expunge_all()
        return rows
