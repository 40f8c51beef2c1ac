"""An operator's network: stations with live connector status, and revenue per day."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from evbill.api.live import OPEN_STATES
from evbill.api.problems import BadRequest, NotFound
from evbill.money import Money
from evbill.store.tables import CdrRow, ConnectorRow, SessionRow, StationRow

__all__ = ["DayRevenue", "StationStatus", "network_stations", "revenue_by_day"]


@dataclass(frozen=True, slots=True)
class ConnectorStatus:
    evse_id: int
    connector_id: int
    status: str
    error_code: str | None
    status_at: datetime | None


@dataclass(frozen=True, slots=True)
class StationStatus:
    id: str
    connected: bool
    last_seen_at: datetime | None
    protocol: str | None
    vendor: str | None
    model: str | None
    time_zone: str
    connectors: tuple[ConnectorStatus, ...]
    open_sessions: int


@dataclass(frozen=True, slots=True)
class DayRevenue:
    day: date
    sessions: int
    energy_wh: Decimal
    revenue: dict[str, Money]  # per currency, incl. VAT


def network_stations(s: Session, operator_id: str, station_id: str | None = None
                     ) -> list[StationStatus]:  # fmt: skip
    stmt = select(StationRow).where(StationRow.operator == operator_id)
    if station_id is not None:
        stmt = stmt.where(StationRow.id == station_id)
    stations = list(s.scalars(stmt.order_by(StationRow.id)))
    if station_id is not None and not stations:
        raise NotFound(f"station_id: no station {station_id!r}")
    ids = [st.id for st in stations]
    connectors: defaultdict[str, list[ConnectorStatus]] = defaultdict(list)
    for c in s.scalars(select(ConnectorRow).where(ConnectorRow.station_id.in_(ids))
                       .order_by(ConnectorRow.evse_id, ConnectorRow.connector_id)):  # fmt: skip
        connectors[c.station_id].append(
            ConnectorStatus(c.evse_id, c.connector_id, c.status, c.error_code, c.status_at))
    open_counts = dict(s.execute(
        select(SessionRow.station_id, func.count()).where(
            SessionRow.station_id.in_(ids), SessionRow.state.in_(OPEN_STATES))
        .group_by(SessionRow.station_id)).tuples().all())  # fmt: skip
    return [StationStatus(st.id, st.connected, st.last_seen_at, st.protocol, st.vendor, st.model,
                          st.time_zone, tuple(connectors[st.id]), open_counts.get(st.id, 0))
            for st in stations]  # fmt: skip


def revenue_by_day(s: Session, operator_id: str, since: datetime, until: datetime,
                   tz: str) -> list[DayRevenue]:  # fmt: skip
    """Rated sessions started in [since, until), grouped by local day in `tz`."""
    if until <= since or until - since > timedelta(days=400):
        raise BadRequest("until: the range must be positive and at most 400 days")
    zone = ZoneInfo(tz)
    stations = select(StationRow.id).where(StationRow.operator == operator_id)
    rows = s.execute(
        select(SessionRow.started_at, CdrRow.total_energy_wh, CdrRow.total_cost_incl_vat,
               CdrRow.total_cost_excl_vat, CdrRow.currency)
        .join(CdrRow, CdrRow.session_id == SessionRow.id)
        .where(SessionRow.station_id.in_(stations), SessionRow.started_at >= since,
               SessionRow.started_at < until)).all()  # fmt: skip
    days: dict[date, tuple[int, Decimal, dict[str, Money]]] = {}
    first, last = since.astimezone(zone).date(), (until - timedelta(microseconds=1)).astimezone(
        zone).date()  # fmt: skip
    day = first
    while day <= last:
        days[day] = (0, Decimal(0), {})
        day += timedelta(days=1)
    for started, energy, incl, excl, currency in rows:
        key = started.astimezone(zone).date()
        count, wh, money = days.setdefault(key, (0, Decimal(0), {}))
        amount = Money(incl if incl is not None else excl, currency)
        money[currency] = money.get(currency, Money.zero(currency)) + amount
        days[key] = (count + 1, wh + energy, money)
    return [DayRevenue(d, c, wh, m) for d, (c, wh, m) in sorted(days.items())]
