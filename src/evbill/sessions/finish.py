"""Finishing a session: signed energy, the tariff in force at start, rating, the stored CDR.

Runs inside the caller's unit of work. It never loses a session: when signed data does not
verify, no tariff applies, or rating fails, the session stays `finished` with a flag and a
note, and no CDR is written. When the readings are implausible or a transaction gap was
seen (`evbill.sessions.plausibility`, `evbill.sessions.gaps`), the session is `held` with its
reason and nothing is rated until an operator releases or corrects it. Running it again (late
samples, a late start, an operator's resolve) re-rates and replaces the CDR with a higher
revision. A `refused` session is never rated.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from evbill.config import Settings
from evbill.money import MoneyError
from evbill.rating import MeterSample, RatingError, rate_timeline
from evbill.sessions.gaps import HOLDING_FLAGS
from evbill.sessions.plausibility import Limits, implausible
from evbill.sessions.recording import add_flag, clear_flags
from evbill.sessions.signed import SignedEnergy, SignedRecord, signed_energy
from evbill.sessions.state import SessionFlag, SessionState, transition
from evbill.sessions.tariff_book import tariff_for_session
from evbill.sessions.timeline import Point, Timeline, build_timeline, flatten, pin_to_signed
from evbill.store.tables import CdrRow, SessionRow, SignedMeterDataRow, TariffRow
from evbill.store.uow import UnitOfWork
from evbill.tariffs import TariffError, dumps, loads, parse_tariff

__all__ = ["cdr_id_for", "finish_session"]

log = logging.getLogger(__name__)

#: Flags that finishing decides afresh each time it runs.
_FINISH_FLAGS = (
    SessionFlag.NO_TARIFF,
    SessionFlag.RATING_FAILED,
    SessionFlag.SIGNATURE_INVALID,
    SessionFlag.SIGNED_DATA_INCOMPLETE,
    SessionFlag.NO_ENERGY_READINGS,
    SessionFlag.IMPLAUSIBLE_READING,
)


def cdr_id_for(row: SessionRow) -> str:
    """A session's CDR id: stable across re-rating, unique, within OCPI's 39 characters."""
    return f"EVB{row.id:010d}"


def _timeline(uow: UnitOfWork, row: SessionRow) -> Timeline:
    points = [
        Point(s.at, s.energy_wh, s.power_w, s.current_a, s.charging)
        for s in uow.sessions.samples(row.id)
    ]
    return build_timeline(row.started_at, row.stopped_at, row.meter_start_wh,
                          row.meter_stop_wh, points)  # fmt: skip


def _registered_key(uow: UnitOfWork, row: SessionRow) -> str | None:
    evse = uow.stations.evse(row.station_id, row.evse_id)
    if evse is not None and evse.meter_public_key:
        return evse.meter_public_key
    station = uow.stations.get(row.station_id)
    return station.meter_public_key if station is not None else None


def _signed(uow: UnitOfWork, row: SessionRow, signed: list[SignedMeterDataRow]) -> SignedEnergy:
    records = [SignedRecord(s.at, s.context, s.encoding, s.signed_data, s.public_key)
               for s in signed]  # fmt: skip
    return signed_energy(records, _registered_key(uow, row))


def _signed_data_json(signed: list[SignedMeterDataRow], key: str | None) -> dict[str, Any]:
    """OCPI 2.2.1 SignedData: every record verbatim, begin first."""
    values = []
    for index, record in enumerate(signed):
        nature = "Start" if index == 0 else "End" if index == len(signed) - 1 else "Intermediate"
        parts = record.signed_data.split("|")
        plain = parts[1] if len(parts) == 3 else ""
        values.append({"nature": nature, "plain_data": plain, "signed_data": record.signed_data})
    out: dict[str, Any] = {"encoding_method": signed[0].encoding, "signed_values": values}
    if key:
        out["public_key"] = key
    return out


def finish_session(uow: UnitOfWork, row: SessionRow, now: datetime, settings: Settings, *,
                   tariff: TariffRow | None = None) -> None:
    """Bring a stopped session to `rated` (CDR stored), or leave it `finished` and flagged, or
    `held` for review; a `refused` session only gets its energy recorded. `tariff` replaces
    the one in force (an operator's re-rating)."""
    state = SessionState(row.state)
    refused = state is SessionState.REFUSED
    if state in (SessionState.RATED, SessionState.HELD):
        state = transition(state, SessionState.FINISHED)
    if not refused:
        row.state = transition(state, SessionState.FINISHED).value
        row.hold_reason = None
        clear_flags(row, _FINISH_FLAGS)
    row.updated_at = now
    timeline = _timeline(uow, row)
    if row.released_by is not None:
        timeline = flatten(timeline)  # an operator accepted (or corrected) these readings
    if not timeline.points:
        row.energy_wh = Decimal(0)
        if not refused:
            add_flag(row, SessionFlag.NO_ENERGY_READINGS, "no meter reading at all")
        return
    row.energy_wh, row.energy_source = timeline.energy_wh, "meter"
    if refused:
        return
    signed = list(uow.sessions.signed_data(row.id))
    key = None
    signed_wh = None
    if signed:
        verdict = _signed(uow, row, signed)
        if not verdict.ok or verdict.begin_wh is None or verdict.end_wh is None:
            assert verdict.flag is not None
            add_flag(row, verdict.flag, verdict.reason)  # never billed on unsigned numbers
            return
        signed_wh = verdict.end_wh - verdict.begin_wh
    if _hold(uow, row, timeline, signed_wh, now, settings):
        return
    if signed:
        assert verdict.begin_wh is not None and verdict.end_wh is not None
        timeline = pin_to_signed(timeline, verdict.begin_wh, verdict.end_wh)
        row.energy_wh, row.energy_source = timeline.energy_wh, "signed"
        key = _registered_key(uow, row) or signed[0].public_key
    _rate(uow, row, timeline, signed, key, now, tariff)


def _hold(uow: UnitOfWork, row: SessionRow, timeline: Timeline, signed_wh: Decimal | None,
          now: datetime, settings: Settings) -> bool:
    """Hold the session for review if its readings are implausible or a gap was seen."""
    if row.released_by is not None:
        return False  # an operator accepted these readings (`evbill sessions resolve`)
    station = uow.stations.get(row.station_id)
    since = None if station is None or station.auto_registered else station.created_at
    evse = uow.stations.evse(row.station_id, row.evse_id)
    registered_w = evse.max_power_w if evse is not None else None
    max_power_w = (Decimal(registered_w) if registered_w  # the EVSE's own, else the setting
                   else settings.evse_max_power_kw * 1000)  # fmt: skip
    limits = Limits(now=now, max_power_w=max_power_w,
                    tolerance_percent=settings.power_tolerance_percent,
                    clock_skew=timedelta(seconds=settings.clock_skew), station_since=since)
    reasons = implausible(timeline, row.started_at, row.stopped_at, limits, signed_wh)
    if reasons:
        add_flag(row, SessionFlag.IMPLAUSIBLE_READING, "; ".join(reasons))
    gaps = [note for note in (row.review_note or "").splitlines()
            if note.split(":", 1)[0] in {f.value for f in HOLDING_FLAGS}
            and note.split(":", 1)[0] in (row.flags or [])]
    reasons += gaps
    if not reasons:
        return False
    row.state = transition(SessionState.FINISHED, SessionState.HELD).value
    row.hold_reason = "\n".join(reasons)
    log.warning("session.held session_id=%s reasons=%s", row.id, row.hold_reason)
    return True


def _rate(
    uow: UnitOfWork,
    row: SessionRow,
    timeline: Timeline,
    signed: list[SignedMeterDataRow],
    key: str | None,
    now: datetime,
    override: TariffRow | None = None,
) -> None:
    tariff_row = override or tariff_for_session(uow, row)
    if tariff_row is None:
        add_flag(row, SessionFlag.NO_TARIFF,
                 f"no tariff assigned to {row.station_id} EVSE {row.evse_id} "
                 f"at {row.started_at.isoformat()}")  # fmt: skip
        return
    samples = [
        MeterSample(p.at, p.energy_wh, p.power_w, p.current_a, bool(p.charging))
        for p in timeline.points
        if p.energy_wh is not None
    ]
    try:
        tariff = parse_tariff(loads(tariff_row.ocpi_json))
        priced = rate_timeline(tariff, row.time_zone, samples, cdr_id=cdr_id_for(row),
                               reservation=row.reservation_id is not None)  # fmt: skip
        ocpi = priced.to_ocpi(breakdown=True)  # the document lines (invoicing.sources)
    except (TariffError, RatingError, MoneyError, ArithmeticError) as exc:
        add_flag(row, SessionFlag.RATING_FAILED, f"tariff {tariff_row.tariff_id}: {exc}")
        return
    _enrich(ocpi, row, signed, key)
    total = priced.total_cost
    cdr = uow.cdrs.for_session(row.id)
    if cdr is None:
        cdr = uow.cdrs.add(CdrRow(id=cdr_id_for(row), session_id=row.id, revision=1,
                                  created_at=now))  # fmt: skip
    else:
        cdr.revision += 1
    cdr.currency = tariff.currency
    cdr.total_cost_excl_vat = total.excl_vat.amount
    cdr.total_cost_incl_vat = total.incl_vat.amount
    cdr.total_energy_wh = timeline.energy_wh
    cdr.energy_source = row.energy_source
    cdr.ocpi_json = dumps(ocpi, indent=None)
    cdr.tariff_pk = tariff_row.pk
    cdr.updated_at = now
    row.tariff_pk = tariff_row.pk
    row.state = transition(SessionState.FINISHED, SessionState.RATED).value
    log.info("session.rated session_id=%s cdr_id=%s total_excl_vat=%s currency=%s revision=%d",
             row.id, cdr.id, cdr.total_cost_excl_vat, cdr.currency, cdr.revision)  # fmt: skip


def _enrich(
    ocpi: dict[str, Any], row: SessionRow, signed: list[SignedMeterDataRow], key: str | None
) -> None:
    """Fill what only the session knows into the CDR, leaving what rating wrote alone."""
    if not ocpi.get("session_id"):
        ocpi["session_id"] = str(row.id)
    if row.id_token and not ocpi.get("cdr_token"):
        ocpi["cdr_token"] = {"uid": row.id_token, "type": _ocpi_token_type(row.id_token_type),
                             "contract_id": row.id_token}  # fmt: skip
    if not ocpi.get("auth_method"):
        ocpi["auth_method"] = "WHITELIST" if row.id_token else "AUTH_REQUEST"
    if signed:
        ocpi["signed_data"] = _signed_data_json(signed, key)


def _ocpi_token_type(ocpp_type: str | None) -> str:
    return {"ISO14443": "RFID", "ISO15693": "RFID", "eMAID": "APP_USER",
            "Central": "APP_USER"}.get(ocpp_type or "", "OTHER")  # fmt: skip
