"""A running session's energy and cost so far: the stored samples, rated with the session's
tariff by the rating engine up to `now` (time-based components keep counting while it runs)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from evbill.api.tables import GroupTariffRow
from evbill.money import MoneyError
from evbill.rating import MeterSample, Price, RatingError, rate_timeline
from evbill.sessions.state import SessionState
from evbill.sessions.timeline import Point, build_timeline
from evbill.store.tables import IdTokenRow, SessionRow, StationRow, TariffRow
from evbill.store.uow import UnitOfWork
from evbill.tariffs import TariffError, loads, parse_tariff

__all__ = ["OPEN_STATES", "LiveView", "live_view", "tariff_for_session"]

log = logging.getLogger(__name__)

OPEN_STATES = frozenset({SessionState.PENDING.value, SessionState.CHARGING.value,
                         SessionState.SUSPENDED.value, SessionState.PARKED.value})  # fmt: skip


@dataclass(frozen=True, slots=True)
class LiveView:
    energy_wh: Decimal
    cost: Price | None  # None: no tariff, or nothing to rate yet
    tariff_id: str | None
    power_w: Decimal | None
    at: datetime


def tariff_for_session(uow: UnitOfWork, row: SessionRow) -> TariffRow | None:
    """The customer group's tariff on this network if there is one, else the EVSE's."""
    if row.tariff_pk is not None:
        return uow.tariffs.get(row.tariff_pk)
    s = uow.session
    if row.id_token:
        group = s.scalars(select(IdTokenRow.group_id).where(
            IdTokenRow.value == row.id_token).limit(1)).first()  # fmt: skip
        operator = s.scalars(select(StationRow.operator).where(
            StationRow.id == row.station_id)).first()  # fmt: skip
        if group and operator:
            stmt = (select(TariffRow).join(GroupTariffRow, GroupTariffRow.tariff_pk == TariffRow.pk)
                    .where(GroupTariffRow.operator_id == operator,
                           GroupTariffRow.group_id == group,
                           GroupTariffRow.valid_from <= row.started_at)
                    .order_by(GroupTariffRow.valid_from.desc(), GroupTariffRow.id.desc())
                    .limit(1))  # fmt: skip
            found = s.scalars(stmt).first()
            if found is not None:
                return found
    return uow.tariffs.in_force(row.station_id, row.evse_id, row.started_at)


def live_view(uow: UnitOfWork, row: SessionRow, now: datetime) -> LiveView:
    points = [Point(s.at, s.energy_wh, s.power_w, s.current_a, s.charging)
              for s in uow.sessions.samples(row.id)]  # fmt: skip
    timeline = build_timeline(row.started_at, row.stopped_at, row.meter_start_wh,
                              row.meter_stop_wh, points)  # fmt: skip
    power = next((p.power_w for p in reversed(points) if p.power_w is not None), None)
    samples = [MeterSample(p.at, p.energy_wh, p.power_w, p.current_a, bool(p.charging))
               for p in timeline.points if p.energy_wh is not None]  # fmt: skip
    if row.state in OPEN_STATES and samples and samples[-1].at < now:
        last = samples[-1]
        samples.append(MeterSample(now, last.energy_wh, last.power_w, last.current_a,
                                   last.charging))  # fmt: skip
    tariff_row = tariff_for_session(uow, row)
    if tariff_row is None or not samples:
        return LiveView(timeline.energy_wh, None, None, power, now)
    try:
        priced = rate_timeline(parse_tariff(loads(tariff_row.ocpi_json)), row.time_zone,
                               samples, reservation=row.reservation_id is not None)  # fmt: skip
    except (TariffError, RatingError, MoneyError, ArithmeticError) as exc:
        log.warning("session.live_rating_failed session_id=%s error=%s", row.id, exc)
        return LiveView(timeline.energy_wh, None, tariff_row.tariff_id, power, now)
    return LiveView(timeline.energy_wh, priced.total_cost, tariff_row.tariff_id, power, now)
