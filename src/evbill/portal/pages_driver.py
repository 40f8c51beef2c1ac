"""Driver pages: overview (live session card, monthly charts), history, documents, wallet."""

from __future__ import annotations

import secrets
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from evbill.accounts.roles import Role
from evbill.api.auth import Allow, Principal
from evbill.api.commands import driver_card, start_charging, stop_charging
from evbill.api.context import context_of
from evbill.api.documents import account_documents, document_file
from evbill.api.history import find_session, find_session_item, session_page
from evbill.api.live import OPEN_STATES, live_view
from evbill.api.pagination import window
from evbill.api.problems import Problem
from evbill.api.views import live_out
from evbill.money import Money, MoneyError
from evbill.payments.refusals import Refusal
from evbill.payments.wallet_topup import WalletService
from evbill.portal.charts import Bar, bar_chart
from evbill.portal.csrf import CsrfCheck
from evbill.portal.page import page
from evbill.portal.stats import driver_months
from evbill.store.uow import UnitOfWork

router = APIRouter(prefix="/portal", include_in_schema=False)
Driver = Annotated[Principal, Depends(Allow(Role.DRIVER, portal=True))]
Checked = [Depends(CsrfCheck())]
TZ = "Europe/Berlin"


def _account(who: Principal) -> str:
    assert who.token_account is not None
    return who.token_account


def _charts(request: Request, who: Principal) -> dict[str, str]:
    ctx = context_of(request)
    with ctx.db.read_sessions() as s:
        months, currency = driver_months(s, _account(who), ctx.clock(), TZ)
    energy = [Bar(m.month.strftime("%b"), m.energy_kwh,
                  f"{m.month:%B %Y}: {m.energy_kwh:.1f} kWh in {m.sessions} sessions")
              for m in months]  # fmt: skip
    spend = [Bar(m.month.strftime("%b"), m.spend, f"{m.month:%B %Y}: {m.spend:.2f} {currency}")
             for m in months]  # fmt: skip
    return {"energy": bar_chart(energy, title="Energy charged per month", unit="kWh",
                                chart_id="chart-kwh"),
            "spend": bar_chart(spend, title="Spend per month (incl. VAT)", unit=currency,
                               chart_id="chart-spend")}  # fmt: skip


@router.get("/")
def home(request: Request, who: Driver, flash: str | None = None) -> Response:
    ctx = context_of(request)
    with ctx.db.reader() as conn:
        recent = session_page(conn, who, window(10, None, None, None)).items
    running = [item for item in recent if item.state in OPEN_STATES]
    return page(request, "driver_home.html", who, running=running, recent=recent,
                charts=_charts(request, who), flash=flash, tz=ZoneInfo(TZ))


@router.get("/sessions/{session_id}/live")
def live(request: Request, who: Driver, session_id: int) -> Any:
    """The live card's data (polled by the page's script)."""
    ctx = context_of(request)
    with UnitOfWork(ctx.db, read_only=True, snapshot=False) as uow:
        row, item = find_session_item(uow.session, who, session_id)
        live = live_view(uow, row, ctx.clock(), ctx.live_tariffs)
        out = live_out(item, live, "/api/v1/me")
    return out.model_dump(mode="json")


@router.post("/sessions/{session_id}/stop", dependencies=Checked)
def stop(request: Request, who: Driver, session_id: int) -> Response:
    ctx = context_of(request)
    with ctx.db.read_sessions() as s:
        row = find_session(s, who, session_id)
    try:
        stop_charging(ctx, row)
        note = "Stop requested: the station is ending your session."
    except (Problem, Refusal) as exc:
        note = exc.detail
    return RedirectResponse(f"/portal/?flash={note}", status_code=303)


@router.post("/sessions/start", dependencies=Checked)
def start(request: Request, who: Driver, station_id: Annotated[str, Form(max_length=64)],
          evse_id: Annotated[int, Form(ge=1)]) -> Response:  # fmt: skip
    ctx = context_of(request)
    try:
        start_charging(ctx, station_id, evse_id, driver_card(ctx, who, None))
        note = f"Start requested at {station_id} EVSE {evse_id}."
    except (Problem, Refusal) as exc:
        note = exc.detail
    return RedirectResponse(f"/portal/?flash={note}", status_code=303)


def _day(value: str | None, tz: ZoneInfo, end: bool = False) -> datetime | None:
    if not value:
        return None
    day = datetime.combine(date.fromisoformat(value), time(0), tzinfo=tz)
    return day + timedelta(days=1) if end else day


@router.get("/sessions")
def history(
    request: Request, who: Driver, cursor: str | None = None,
    date_from: Annotated[str | None, Query(alias="from", pattern=r"^(\d{4}-\d{2}-\d{2})?$")] = None,
    date_to: Annotated[str | None, Query(alias="to", pattern=r"^(\d{4}-\d{2}-\d{2})?$")] = None,
    state: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:  # fmt: skip
    zone = ZoneInfo(TZ)
    win = window(20, cursor, _day(date_from, zone), _day(date_to, zone, end=True))
    with context_of(request).db.reader() as conn:
        result = session_page(conn, who, win, state=state or None)
    return page(request, "driver_sessions.html", who, page_=result, date_from=date_from or "",
                date_to=date_to or "", state=state or "", tz=zone)


@router.get("/invoices")
def invoices(request: Request, who: Driver) -> Response:
    docs = account_documents(context_of(request), _account(who))
    return page(request, "driver_invoices.html", who, documents=docs)


@router.get("/invoices/{number}.{kind}")
def invoice_file(request: Request, who: Driver, number: str, kind: str) -> Response:
    data, media = document_file(context_of(request), _account(who), number,
                                "pdf" if kind == "pdf" else "cii")  # fmt: skip
    ext = "pdf" if kind == "pdf" else "xml"
    return Response(data, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="{number}.{ext}"'})


@router.get("/wallet")
def wallet(request: Request, who: Driver, flash: str | None = None) -> Response:
    service = WalletService(context_of(request))
    return page(request, "driver_wallet.html", who, methods=service.methods(_account(who)),
                balance=service.balance(_account(who)), flash=flash)


@router.post("/wallet/top-up", dependencies=Checked)
def top_up(request: Request, who: Driver, amount: Annotated[str, Form(max_length=12)],
           method: Annotated[str, Form(max_length=128)]) -> Response:  # fmt: skip
    service = WalletService(context_of(request))
    try:
        value = Money.of(amount, "EUR")
        service.top_up(_account(who), value, method, secrets.token_hex(8))
        note = f"Added {value} to your wallet."
    except (Problem, Refusal, MoneyError) as exc:
        note = f"amount: {exc}" if isinstance(exc, MoneyError) else exc.detail
    return RedirectResponse(f"/portal/wallet?flash={note}", status_code=303)


@router.post("/wallet/methods", dependencies=Checked)
def add_method(request: Request, who: Driver,
               token: Annotated[str, Form(max_length=128)]) -> Response:  # fmt: skip
    try:
        m = WalletService(context_of(request)).add_method(_account(who), token)
        note = f"Saved {m.brand} ending {m.last4}."
    except (Problem, Refusal) as exc:
        note = exc.detail
    return RedirectResponse(f"/portal/wallet?flash={note}", status_code=303)
