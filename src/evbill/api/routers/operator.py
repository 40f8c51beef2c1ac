"""Operator views of their network: stations, sessions, CDRs, revenue, API keys, ledger roots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from evbill.accounts.roles import STAFF, Role
from evbill.api.auth import Allow, Principal
from evbill.api.commands import stop_charging
from evbill.api.context import context_of
from evbill.api.history import (
    cdr_page,
    find_cdr,
    find_session,
    find_session_item,
    session_page,
)
from evbill.api.live import live_view
from evbill.api.network import network_stations, revenue_by_day
from evbill.api.pagination import STATE_MAX, window
from evbill.api.params import Name, OptionalInstant, RowId, TimeZone
from evbill.api.schemas import (
    Body,
    CdrOut,
    CdrPage,
    CommandOut,
    LiveOut,
    MoneyOut,
    SessionOut,
    SessionPage,
    kwh,
    money_out,
)
from evbill.api.users import translated, users_of
from evbill.api.views import cdr_out, live_out, session_out, session_page_body
from evbill.ledger.service import LedgerService
from evbill.ledger.store import sql_unit_of_work
from evbill.store.uow import UnitOfWork

router = APIRouter(prefix="/api/v1/operator", tags=["operator"])
Staff = Annotated[Principal, Depends(Allow(*STAFF))]
Admin = Annotated[Principal, Depends(Allow(Role.OPERATOR_ADMIN))]
BASE = "/api/v1/operator"


class ConnectorOut(BaseModel):
    evse_id: int
    connector_id: int
    status: str
    error_code: str | None
    status_at: datetime | None


class StationOut(BaseModel):
    id: str
    connected: bool
    last_seen_at: datetime | None
    protocol: str | None
    vendor: str | None
    model: str | None
    time_zone: str
    open_sessions: int
    connectors: list[ConnectorOut]


def _station_out(st: Any) -> StationOut:
    return StationOut(
        id=st.id, connected=st.connected, last_seen_at=st.last_seen_at, protocol=st.protocol,
        vendor=st.vendor, model=st.model, time_zone=st.time_zone, open_sessions=st.open_sessions,
        connectors=[ConnectorOut(evse_id=c.evse_id, connector_id=c.connector_id, status=c.status,
                                 error_code=c.error_code, status_at=c.status_at)
                    for c in st.connectors],
    )  # fmt: skip


@router.get("/stations")
def stations(request: Request, who: Staff) -> list[StationOut]:
    """Your stations with their live connection and connector status."""
    with context_of(request).db.read_sessions() as s:
        return [_station_out(st) for st in network_stations(s, who.network)]


@router.get("/stations/{station_id}")
def station(request: Request, who: Staff, station_id: Name) -> StationOut:
    with context_of(request).db.read_sessions() as s:
        return _station_out(network_stations(s, who.network, station_id)[0])


@router.get("/sessions")
def sessions(
    request: Request, who: Staff, limit: int = 50, cursor: str | None = None,
    since: OptionalInstant = None, until: OptionalInstant = None,
    station_id: Annotated[str | None, Query(max_length=64)] = None,
    state: Annotated[str | None, Query(max_length=STATE_MAX)] = None,
) -> SessionPage:  # fmt: skip
    win = window(limit, cursor, since, until)
    with context_of(request).db.reader() as conn:
        page = session_page(conn, who, win, station_id=station_id, state=state)
    return SessionPage.model_validate(session_page_body(page, BASE))


@router.get("/sessions/{session_id}")
def session(request: Request, who: Staff, session_id: RowId) -> SessionOut:
    with context_of(request).db.read_sessions() as s:
        return session_out(find_session_item(s, who, session_id)[1], BASE)


@router.get("/sessions/{session_id}/live")
def live_session(request: Request, who: Staff, session_id: RowId) -> LiveOut:
    ctx = context_of(request)
    with UnitOfWork(ctx.db, read_only=True, snapshot=False) as uow:
        row, item = find_session_item(uow.session, who, session_id)
        live = live_view(uow, row, ctx.clock(), ctx.live_tariffs)
        return live_out(item, live, BASE)


@router.post("/sessions/{session_id}/stop", status_code=202)
def stop_session(request: Request, who: Admin, session_id: RowId) -> CommandOut:
    ctx = context_of(request)
    with ctx.db.read_sessions() as s:
        row = find_session(s, who, session_id)
    cmd = stop_charging(ctx, row)
    return CommandOut(command_id=cmd.id, station_id=cmd.station_id, action=cmd.action,
                      status=cmd.status)  # fmt: skip


@router.get("/cdrs")
def cdrs(
    request: Request, who: Staff, limit: int = 50, cursor: str | None = None,
    since: OptionalInstant = None, until: OptionalInstant = None,
) -> CdrPage:  # fmt: skip
    win = window(limit, cursor, since, until)
    with context_of(request).db.read_sessions() as s:
        page = cdr_page(s, who, win)
        return CdrPage(items=[cdr_out(r) for r in page.items], next_cursor=page.next_cursor)


@router.get("/cdrs/{cdr_id}")
def cdr(request: Request, who: Staff, cdr_id: Name) -> CdrOut:
    with context_of(request).db.read_sessions() as s:
        return cdr_out(find_cdr(s, who, cdr_id))


class DayOut(BaseModel):
    day: str
    sessions: int
    energy_kwh: str
    revenue: list[MoneyOut]


@router.get("/revenue")
def revenue(request: Request, who: Staff, since: OptionalInstant = None,
            until: OptionalInstant = None, tz: TimeZone = "UTC") -> list[DayOut]:  # fmt: skip
    """Revenue (incl. VAT) and energy per local day of rated sessions; default: last 30 days."""
    ctx = context_of(request)
    end = until or ctx.clock()
    start = since or end - timedelta(days=30)
    with ctx.db.read_sessions() as s:
        days = revenue_by_day(s, who.network, start.astimezone(UTC), end.astimezone(UTC), tz)
    return [DayOut(day=d.day.isoformat(), sessions=d.sessions, energy_kwh=kwh(d.energy_wh),
                   revenue=[m for m in (money_out(v) for v in d.revenue.values()) if m])
            for d in days]  # fmt: skip


# --- API keys -------------------------------------------------------------------------------
class KeyIn(Body):
    label: str = Field(min_length=1, max_length=100)
    role: Role = Role.FINANCE


class KeyOut(BaseModel):
    id: str
    label: str
    role: str
    created_at: datetime
    revoked_at: datetime | None
    secret: str | None = Field(default=None, description="shown once, at creation")


@router.get("/api-keys")
def api_keys(request: Request, who: Admin) -> list[KeyOut]:
    rows = users_of(context_of(request)).keys(who.network)
    return [KeyOut(id=r.id, label=r.label, role=r.role, created_at=r.created_at,
                   revoked_at=r.revoked_at) for r in rows]  # fmt: skip


@router.post("/api-keys", status_code=201)
def create_api_key(request: Request, who: Admin, body: KeyIn) -> KeyOut:
    ctx = context_of(request)
    with translated():
        issued = users_of(ctx).issue_key(who.network, body.role, body.label)
    return KeyOut(id=issued.key_id, label=issued.label, role=issued.role,
                  created_at=ctx.clock(), revoked_at=None, secret=issued.secret)  # fmt: skip


@router.delete("/api-keys/{key_id}", status_code=204)
def revoke_api_key(request: Request, who: Admin, key_id: Name) -> None:
    with translated():
        users_of(context_of(request)).revoke_key(who.network, key_id)


# --- ledger ---------------------------------------------------------------------------------
class RootOut(BaseModel):
    day: str
    root: str
    entry_count: int


@router.get("/ledger/daily-roots")
def daily_roots(request: Request, who: Staff) -> list[RootOut]:
    """The ledger's published daily Merkle roots (anyone holding a receipt can check a proof)."""
    service = LedgerService(sql_unit_of_work(context_of(request).db))
    return [RootOut(day=r.day, root=r.root, entry_count=r.entry_count) for r in service.roots()]
