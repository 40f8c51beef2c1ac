"""OCPP 1.6: transactions still open when their station boots again are closed (in one UoW).

A 1.6 station that reboots has lost its running transactions; one that sends their
StopTransaction after the BootNotification corrects what is done here (the real stop re-rates
the session). Otherwise the session ends at its last reading, with that reading as its end
value, and is flagged `closed_by_reboot` so an operator sees it: billed from what was
measured, never more.
"""

from __future__ import annotations

import logging
from datetime import datetime

from evbill.config import Settings
from evbill.sessions.finish import finish_session
from evbill.sessions.recording import add_flag
from evbill.sessions.state import SessionFlag
from evbill.store.tables import StationRow
from evbill.store.uow import UnitOfWork

__all__ = ["close_on_reboot"]

log = logging.getLogger(__name__)


def close_on_reboot(
    uow: UnitOfWork, station: StationRow, now: datetime, settings: Settings
) -> list[str]:
    """Close the station's open, started sessions; return their transaction ids."""
    closed = []
    for row in uow.sessions.open_sessions(station.id):
        if not row.start_received or row.started_at > now:
            continue
        samples = [s for s in uow.sessions.samples(row.id)
                   if s.energy_wh is not None and s.at >= row.started_at and s.at <= now]
        last = max(samples, key=lambda s: s.at, default=None)
        row.stopped_at = last.at if last is not None else row.started_at
        row.stop_reason = "Reboot"
        add_flag(row, SessionFlag.CLOSED_BY_REBOOT,
                 f"open when the station booted at {now.isoformat()}; closed at its last "
                 f"reading ({row.stopped_at.isoformat()})")
        uow.flush()
        finish_session(uow, row, now, settings)
        closed.append(row.transaction_id or "")
        log.warning("session.closed_by_reboot session_id=%s station_id=%s", row.id, station.id)
    return closed
