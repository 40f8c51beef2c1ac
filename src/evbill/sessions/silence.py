"""Open sessions that went silent: flagged `silent` so an operator sees them while they are
open (a stop that ends the silence then holds the session for review, `sessions.gaps`).
`evbill serve` runs the watch every few minutes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select

from evbill.sessions.recording import add_flag
from evbill.sessions.state import SessionFlag, SessionState
from evbill.store.database import Database
from evbill.store.tables import SessionRow
from evbill.store.uow import UnitOfWork

__all__ = ["flag_silent_sessions", "run_silence_watch"]

log = logging.getLogger(__name__)

_OPEN = (SessionState.PENDING.value, SessionState.CHARGING.value,
         SessionState.SUSPENDED.value, SessionState.PARKED.value)  # fmt: skip


def flag_silent_sessions(db: Database, now: datetime, silence: timedelta,
                         limit: int = 1000) -> list[int]:
    """Flag open sessions with no message for longer than `silence`; return their ids."""
    before = now - silence
    with UnitOfWork(db) as uow:
        rows = uow.session.scalars(select(SessionRow).where(
            SessionRow.state.in_(_OPEN), SessionRow.updated_at < before)
            .order_by(SessionRow.updated_at).limit(limit).with_for_update()).all()  # fmt: skip
        flagged = []
        for row in rows:
            if SessionFlag.SILENT.value in (row.flags or []):
                continue
            add_flag(row, SessionFlag.SILENT,
                     f"no message since {row.updated_at.isoformat()} (more than "
                     f"{int(silence.total_seconds())} s)")
            flagged.append(row.id)
        uow.commit()
    return flagged


async def run_silence_watch(db: Database, silence: timedelta, stop: asyncio.Event,
                            clock: Callable[[], datetime], interval_s: float = 300.0) -> None:
    """Flag silent sessions now and then every `interval_s` until `stop` is set."""
    while not stop.is_set():
        try:
            found = await asyncio.to_thread(flag_silent_sessions, db, clock(), silence)
            if found:
                log.warning("session.silent count=%d", len(found))
        except Exception:  # a failed pass must not end the loop; it is logged and retried
            log.exception("session.silence_watch_failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
