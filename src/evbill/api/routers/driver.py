"""A driver's sessions (history and live), CDRs, and starting/stopping from the app."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from evbill.accounts.roles import Role
from evbill.api.auth import Allow, Principal
from evbill.api.commands import driver_card, start_charging, stop_charging
from evbill.api.context import context_of
from evbill.api.history import (
    cdr_page,
    find_cdr,
    find_session,
    find_session_item,
    session_page,
)
from evbill.api.live import live_view
from evbill.api.pagination import HISTORY_QUERY, history_query, window
from evbill.api.params import Name, OptionalInstant, RowId
from evbill.api.schemas import (
    CdrOut,
    CdrPage,
    CommandOut,
    LiveOut,
    SessionOut,
    SessionPage,
    StartIn,
)
from evbill.api.views import JsonBody, cdr_out, live_out, session_out, session_page_body
from evbill.store.uow import UnitOfWork

router = APIRouter(prefix="/api/v1/me", tags=["driver"])
Driver = Annotated[Principal, Depends(Allow(Role.DRIVER))]
BASE = "/api/v1/me"


@router.get("/sessions", response_model=SessionPage,
            openapi_extra={"parameters": HISTORY_QUERY})  # fmt: skip
async def my_sessions(request: Request, who: Driver) -> Response:
    """Your charging history, newest first (cursor pagination, `since`/`until` on start time)."""
    win, state = history_query(request.query_params)
    ctx = context_of(request)
    with ctx.db.reader() as conn:  # index reads, on the event loop
        page = session_page(conn, who, win, state=state, cards=ctx.cards)
    return JsonBody(session_page_body(page, BASE))


@router.get("/sessions/{session_id}")
def my_session(request: Request, who: Driver, session_id: RowId) -> SessionOut:
    with context_of(request).db.read_sessions() as s:
        return session_out(find_session_item(s, who, session_id)[1], BASE)


@router.get("/sessions/{session_id}/live")
async def my_live_session(request: Request, who: Driver, session_id: RowId) -> LiveOut:
    """Energy and cost so far, rated with the session's tariff up to now (on the event loop:
    a few indexed reads and the rating of the samples, about a millisecond)."""
    ctx = context_of(request)
    with UnitOfWork(ctx.db, read_only=True, snapshot=False) as uow:
        row, item = find_session_item(uow.session, who, session_id)
        return live_out(item, live_view(uow, row, ctx.clock(), ctx.live_tariffs), BASE)


@router.post("/sessions", status_code=202)
def start_session(request: Request, who: Driver, body: StartIn) -> CommandOut:
    """Ask the station to start charging at an EVSE with one of your cards."""
    ctx = context_of(request)
    cmd = start_charging(ctx, body.station_id, body.evse_id,
                         driver_card(ctx, who, body.id_token_id))  # fmt: skip
    return CommandOut(command_id=cmd.id, station_id=cmd.station_id, action=cmd.action,
                      status=cmd.status)  # fmt: skip


@router.post("/sessions/{session_id}/stop", status_code=202)
def stop_session(request: Request, who: Driver, session_id: RowId) -> CommandOut:
    ctx = context_of(request)
    with ctx.db.read_sessions() as s:
        row = find_session(s, who, session_id)
    cmd = stop_charging(ctx, row)
    return CommandOut(command_id=cmd.id, station_id=cmd.station_id, action=cmd.action,
                      status=cmd.status)  # fmt: skip


@router.get("/cdrs")
def my_cdrs(
    request: Request, who: Driver, limit: int = 20, cursor: str | None = None,
    since: OptionalInstant = None, until: OptionalInstant = None,
) -> CdrPage:  # fmt: skip
    win = window(limit, cursor, since, until)
    with context_of(request).db.read_sessions() as s:
        page = cdr_page(s, who, win)
        return CdrPage(items=[cdr_out(r) for r in page.items], next_cursor=page.next_cursor)


@router.get("/cdrs/{cdr_id}")
def my_cdr(request: Request, who: Driver, cdr_id: Name) -> CdrOut:
    with context_of(request).db.read_sessions() as s:
        return cdr_out(find_cdr(s, who, cdr_id))
