"""Writing what stations report into a session: samples, signed data, flags (inside one UoW)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from datetime import datetime

from evbill.sessions.commands import ChargingState, MeterReading, ReadingContext
from evbill.sessions.state import SessionFlag, SessionState
from evbill.store.tables import MeterSampleRow, SessionRow, SignedMeterDataRow
from evbill.store.uow import UnitOfWork

__all__ = ["add_flag", "charging_of", "clear_flags", "record_readings", "refuse"]

log = logging.getLogger(__name__)


def charging_of(state: ChargingState | None) -> bool | None:
    """Whether energy flows in a charging state (None: not reported)."""
    if state is None:
        return None
    return state is ChargingState.CHARGING


def add_flag(row: SessionRow, flag: SessionFlag, reason: str) -> None:
    """Flag the session for review (idempotent) and note why."""
    flags = list(row.flags or [])
    if flag.value not in flags:
        row.flags = [*flags, flag.value]
    line = f"{flag.value}: {reason}"
    notes = (row.review_note or "").splitlines()
    if line not in notes:
        row.review_note = "\n".join([*notes, line])
    log.warning("session.flagged session_id=%s flag=%s reason=%s", row.id, flag.value, reason)


def refuse(row: SessionRow) -> None:
    """The start was refused: the row stays for the station and the audit, never billed."""
    row.state = SessionState.REFUSED.value
    row.hold_reason = None


def clear_flags(row: SessionRow, flags: Iterable[SessionFlag]) -> None:
    """Drop flags (and their notes) that a re-evaluation may set again."""
    names = {f.value for f in flags}
    row.flags = [f for f in (row.flags or []) if f not in names]
    notes = [n for n in (row.review_note or "").splitlines() if n.split(":", 1)[0] not in names]
    row.review_note = "\n".join(notes) or None


def _signed_context(reading: MeterReading) -> ReadingContext:
    # The adapter may put the context on the signed reading or only on the sample.
    assert reading.signed is not None
    if reading.signed.context is not ReadingContext.SAMPLE_PERIODIC:
        return reading.signed.context
    return reading.context


def record_readings(
    uow: UnitOfWork,
    row: SessionRow | None,
    station_id: str,
    evse_id: int,
    readings: Iterable[MeterReading],
    charging: bool | None,
    now: datetime,
) -> list[datetime]:
    """Store readings not seen before; return the times of the newly stored ones.

    `row` None keeps samples without a session (1.6 MeterValues outside every session).
    """
    session_id = None if row is None else row.id
    seen_samples: set[tuple[datetime, str]] = set()
    seen_signed: set[str] = set()
    added: list[datetime] = []
    for reading in readings:
        key = (reading.at, reading.context.value)
        if key not in seen_samples and not uow.sessions.has_sample(session_id, *key):
            seen_samples.add(key)
            uow.sessions.add_sample(MeterSampleRow(
                session_id=session_id, station_id=station_id, evse_id=evse_id, at=reading.at,
                context=reading.context.value, energy_wh=reading.energy_wh,
                power_w=reading.power_w, current_a=reading.current_a,
                soc_percent=reading.soc_percent, charging=charging, received_at=now,
            ))  # fmt: skip
            added.append(reading.at)
        signed = reading.signed
        if signed is None:
            continue
        if session_id is None:
            log.warning("session.signed_data_without_session station_id=%s evse_id=%s at=%s",
                        station_id, evse_id, reading.at.isoformat())  # fmt: skip
            continue
        digest = hashlib.sha256(signed.signed_data.encode("utf-8")).hexdigest()
        if digest in seen_signed or uow.sessions.has_signed(session_id, digest):
            continue
        seen_signed.add(digest)
        uow.sessions.add_signed(SignedMeterDataRow(
            session_id=session_id, at=reading.at, context=_signed_context(reading).value,
            encoding=signed.encoding, signed_data=signed.signed_data,
            public_key=signed.public_key, digest=digest, received_at=now,
        ))  # fmt: skip
    return added
