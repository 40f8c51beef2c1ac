"""The session service's hook points for payments: an injected listener asked before a token
may start (it can refuse) and told after every committed transaction event. No provider code.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from evbill.sessions.commands import (
    AuthorizationResult,
    AuthorizationStatus,
    Authorize,
    StartResult,
    StartSession,
)
from evbill.sessions.recording import add_flag, refuse
from evbill.sessions.state import SessionFlag
from evbill.store.uow import UnitOfWork

__all__ = ["NoHooks", "SessionHooks", "SettlementRecorded", "StationSettlement", "notify_event",
           "refuse_start"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StationSettlement:
    """A payment the station's own terminal took (OCPP 2.1 NotifySettlement)."""

    station_id: str
    psp_ref: str
    status: str  # Settled | Canceled | Rejected | Failed
    amount: Decimal
    settled_at: datetime
    transaction_id: str | None = None
    receipt_id: str | None = None
    status_info: str | None = None


@dataclass(frozen=True, slots=True)
class SettlementRecorded:
    psp_ref: str
    session_id: int | None
    reconciled: str  # matched | amount differs … | no session … | not settled …
    duplicate: bool = False


class SessionHooks(Protocol):
    """What the session service calls; each call runs outside any open unit of work."""

    def check_authorize(self, cmd: Authorize, result: AuthorizationResult) -> AuthorizationResult:
        """An Accepted token may still be refused (payment declined, wallet too low)."""
        ...

    def check_start(self, cmd: StartSession, result: AuthorizationResult) -> AuthorizationResult:
        """Called before a start is recorded with the token's Accepted answer."""
        ...

    def after_event(self, station_id: str, transaction_id: str) -> None:
        """A start, meter values or stop of this transaction was committed."""
        ...

    def record_settlement(self, cmd: StationSettlement) -> SettlementRecorded:
        """Record and reconcile a station-terminal payment (idempotent on the psp reference)."""
        ...


class NoHooks:
    """The default: nothing is checked, nothing is told."""

    def check_authorize(self, cmd: Authorize, result: AuthorizationResult) -> AuthorizationResult:
        return result

    def check_start(self, cmd: StartSession, result: AuthorizationResult) -> AuthorizationResult:
        return result

    def after_event(self, station_id: str, transaction_id: str) -> None:
        return None

    def record_settlement(self, cmd: StationSettlement) -> SettlementRecorded:
        log.warning("session.settlement_ignored station_id=%s psp_ref=%s", cmd.station_id,
                    cmd.psp_ref)
        return SettlementRecorded(cmd.psp_ref, None, "not recorded: no payments configured")


def refuse_start(uow: UnitOfWork, station_id: str, result: StartResult,
                 refusal: AuthorizationResult) -> StartResult:
    """Record a hook's refusal on the just-started session and answer it to the station."""
    row = uow.sessions.by_transaction(station_id, result.transaction_id, for_update=True)
    if row is not None and refusal.status is not AuthorizationStatus.ACCEPTED:
        row.authorization_status = refusal.status.value
        add_flag(row, SessionFlag.AUTHORIZATION_REJECTED,
                 f"payment {refusal.status.value}: {refusal.reason or ''}".rstrip(": "))
        refuse(row)
    return StartResult(result.transaction_id, refusal)


def notify_event(hooks: SessionHooks, station_id: str, transaction_id: str | None) -> None:
    """Tell the hooks; the event is committed, so a failing hook is logged, never raised."""
    if not transaction_id:
        return
    try:
        hooks.after_event(station_id, transaction_id)
    except Exception:  # the periodic sweep settles what a failed call left
        log.exception("session.hook_failed station_id=%s transaction_id=%s",
                      station_id, transaction_id)
