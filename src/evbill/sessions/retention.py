"""Forgetting deduplication keys past their retention.

Every state-changing station message leaves a key in `processed_commands` so that its
retransmission is answered, not applied again; MeterValues alone add one per message. Keys
older than `Settings.dedup_retention_days` (30) are pruned in small batches, each its own
transaction, oldest first — by `evbill serve` every hour, or `evbill db prune-dedup`.
Retransmissions come within minutes or, after an outage, days; a meter sample replayed later
still meets the samples' own unique constraint.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from evbill.store.database import Database
from evbill.store.uow import UnitOfWork

__all__ = ["BATCH", "prune_dedup_keys", "run_dedup_pruner"]

log = logging.getLogger(__name__)

BATCH = 5_000


def prune_dedup_keys(db: Database, now: datetime, retention: timedelta, *, batch: int = BATCH,
                     on_batch: Callable[[int], None] | None = None) -> int:  # fmt: skip
    """Delete every key claimed before `now - retention`; returns how many. Claims go on
    meanwhile: each batch is a short transaction of its own."""
    before = now - retention
    total = 0
    while True:
        with UnitOfWork(db) as uow:
            gone = uow.commands.prune(before, batch)
            uow.commit()
        total += gone
        if on_batch is not None and gone:
            on_batch(gone)
        if gone < batch:
            break
    if total:
        log.info("dedup.pruned keys=%d before=%s", total, before.isoformat())
    return total


async def run_dedup_pruner(
    db: Database, retention: timedelta, stop: asyncio.Event,
    clock: Callable[[], datetime], interval_s: float = 3600.0,
) -> None:  # fmt: skip
    """Prune now and then every `interval_s` until `stop` is set."""
    while not stop.is_set():
        try:
            await asyncio.to_thread(prune_dedup_keys, db, clock(), retention)
        except Exception:  # a failed pass must not end the loop; it is logged and retried
            log.exception("dedup.prune_failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
