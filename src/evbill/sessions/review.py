"""An operator's review of flagged and held sessions: see why, re-rate, release or correct.

Every change is one unit of work that also writes a `session_reviews` row (who, when, why,
the state before and after, what changed), so the audit trail shows each decision. A
released or corrected session goes through `finish_session` again, the path every stopped
session takes: rated (a CDR) and then, through the session hooks, paid like any other.
Nothing here moves money itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from evbill.clock import utc_now
from evbill.config import Settings
from evbill.sessions.commands import SessionDetail
from evbill.sessions.finish import finish_session
from evbill.sessions.lookup import SessionError
from evbill.sessions.state import SessionState
from evbill.sessions.views import session_detail
from evbill.store.database import Database
from evbill.store.tables import SessionReviewRow, SessionRow, TariffRow
from evbill.store.uow import UnitOfWork
from evbill.tariffs import TariffError, parse_tariff_json

__all__ = ["ReviewError", "ReviewOutcome", "ReviewReport", "SessionReview"]

log = logging.getLogger(__name__)

#: States an operator may re-rate or resolve (open sessions are still the station's).
_REVIEWABLE = frozenset({SessionState.FINISHED.value, SessionState.HELD.value,
                         SessionState.RATED.value})  # fmt: skip


class ReviewError(SessionError):
    """A review action that cannot be applied (unknown session, wrong state, bad tariff)."""


@dataclass(frozen=True, slots=True)
class ReviewRecord:
    at: datetime
    action: str
    actor: str
    reason: str
    state_before: str
    state_after: str
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ReviewReport:
    """What `evbill sessions show` prints: the session, why it is flagged or held, its
    readings in short, and what operators did to it."""

    detail: SessionDetail
    hold_reason: str | None
    meter_start_wh: Decimal | None
    meter_stop_wh: Decimal | None
    first_wh: Decimal | None
    last_wh: Decimal | None
    samples_with_energy: int
    released_by: str | None
    reviews: tuple[ReviewRecord, ...]


@dataclass(frozen=True, slots=True)
class ReviewOutcome:
    session_id: int
    station_id: str
    transaction_id: str
    state_before: str
    state_after: str
    flags: tuple[str, ...]
    hold_reason: str | None


class SessionReview:
    """`show`, `rerate` and `resolve` on a `Database`."""

    def __init__(self, db: Database, settings: Settings, *,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self._db, self._settings, self._clock = db, settings, clock

    def show(self, session_id: int) -> ReviewReport:
        with UnitOfWork(self._db, read_only=True) as uow:
            row = _require(uow, session_id)
            energies = [s.energy_wh for s in uow.sessions.samples(row.id)
                        if s.energy_wh is not None]
            reviews = uow.session.scalars(select(SessionReviewRow).where(
                SessionReviewRow.session_id == row.id).order_by(SessionReviewRow.id)).all()
            return ReviewReport(
                session_detail(uow, row), row.hold_reason, row.meter_start_wh,
                row.meter_stop_wh, energies[0] if energies else None,
                energies[-1] if energies else None, len(energies), row.released_by,
                tuple(ReviewRecord(r.at, r.action, r.actor, r.reason, r.state_before,
                                   r.state_after, dict(r.detail)) for r in reviews),
            )  # fmt: skip

    def flagged(self, flag: str, limit: int = 1000) -> list[int]:
        """Ids of reviewable sessions carrying `flag`, oldest first."""
        with UnitOfWork(self._db, read_only=True) as uow:
            rows = uow.session.scalars(select(SessionRow).where(
                SessionRow.state.in_(_REVIEWABLE)).order_by(SessionRow.id)).all()
            return [r.id for r in rows if flag in (r.flags or [])][:limit]

    def rerate(self, session_id: int, *, actor: str, reason: str,
               tariff: str | None = None) -> ReviewOutcome:
        """Rate the session again (optionally with another tariff); the checks still apply."""
        with UnitOfWork(self._db) as uow:
            row = _require(uow, session_id, for_update=True)
            tariff_row = self._tariff(uow, tariff) if tariff else None
            return self._apply(uow, row, "rerate", actor, reason,
                               {"tariff": tariff_row.tariff_id if tariff_row else None},
                               tariff_row)  # fmt: skip

    def resolve(self, session_id: int, *, actor: str, reason: str,
                meter_stop_wh: Decimal | None = None) -> ReviewOutcome:
        """Release a held (or flagged) session as it is, or with a corrected end reading: the
        operator's word replaces the plausibility checks for this session."""
        if meter_stop_wh is not None and (not meter_stop_wh.is_finite() or meter_stop_wh < 0):
            raise ReviewError(f"meter_stop: {meter_stop_wh} Wh is not a register reading")
        with UnitOfWork(self._db) as uow:
            row = _require(uow, session_id, for_update=True)
            if row.stopped_at is None:
                raise ReviewError(f"session {session_id}: still open, nothing to resolve yet")
            detail: dict[str, Any] = {"released": True}
            if meter_stop_wh is not None:
                start = row.meter_start_wh
                if start is not None and meter_stop_wh < start:
                    raise ReviewError(f"meter_stop: {meter_stop_wh} Wh is below the session's "
                                      f"meterStart {start} Wh")
                detail["meter_stop_before"] = _text(row.meter_stop_wh)
                detail["meter_stop_after"] = _text(meter_stop_wh)
                row.meter_stop_wh = meter_stop_wh
            row.released_by = actor
            action = "correct" if meter_stop_wh is not None else "release"
            return self._apply(uow, row, action, actor, reason, detail, None)

    def _apply(self, uow: UnitOfWork, row: SessionRow, action: str, actor: str, reason: str,
               detail: dict[str, Any], tariff_row: TariffRow | None) -> ReviewOutcome:
        if not reason.strip():
            raise ReviewError("reason: say why (it is kept in the audit trail)")
        before = row.state
        if before not in _REVIEWABLE:
            raise ReviewError(f"session {row.id}: a {before} session cannot be reviewed "
                              f"(only {', '.join(sorted(_REVIEWABLE))})")
        now = self._clock()
        finish_session(uow, row, now, self._settings, tariff=tariff_row)
        cdr = uow.cdrs.for_session(row.id)
        detail = {**detail, "cdr_revision": cdr.revision if cdr else None,
                  "total_incl_vat": _text(cdr.total_cost_incl_vat) if cdr else None}
        uow.session.add(SessionReviewRow(
            session_id=row.id, action=action, actor=actor, reason=reason.strip(),
            state_before=before, state_after=row.state, detail=detail, at=now))
        uow.commit()
        log.info("session.reviewed session_id=%s action=%s actor=%s state=%s->%s", row.id,
                 action, actor, before, row.state)  # fmt: skip
        return ReviewOutcome(row.id, row.station_id, row.transaction_id or "", before,
                             row.state, tuple(row.flags or ()), row.hold_reason)

    def _tariff(self, uow: UnitOfWork, tariff: str) -> TariffRow:
        """A stored tariff by its id (newest version) or pk, or a file stored unassigned."""
        path = Path(tariff)
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            try:
                parsed = parse_tariff_json(text)
            except TariffError as exc:
                raise ReviewError(f"tariff: {exc}") from None
            version = parsed.last_updated.isoformat()
            row = uow.tariffs.by_version(parsed.id, version)
            if row is None:
                row = uow.tariffs.add(TariffRow(tariff_id=parsed.id, version=version,
                                                currency=parsed.currency, ocpi_json=text,
                                                created_at=self._clock()))  # fmt: skip
                uow.flush()
            return row
        found = uow.session.scalars(select(TariffRow).where(TariffRow.tariff_id == tariff)
                                    .order_by(TariffRow.pk.desc())).first()
        if found is None and tariff.isdigit():
            found = uow.tariffs.get(int(tariff))
        if found is None:
            raise ReviewError(f"tariff: {tariff!r} is neither a file nor a stored tariff id")
        return found


def _require(uow: UnitOfWork, session_id: int, *, for_update: bool = False) -> SessionRow:
    row = uow.sessions.get(session_id, for_update=for_update)
    if row is None:
        raise ReviewError(f"session {session_id}: no such session")
    return row


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
