"""Operator pages: dashboard (stations, sessions today, revenue chart, failed payments),
tariff editor with a live price preview, payments and refunds."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select

from evbill.accounts.roles import STAFF, Role
from evbill.api.auth import Allow, Principal
from evbill.api.context import context_of
from evbill.api.network import network_stations, revenue_by_day
from evbill.api.plainwords import describe_tariff
from evbill.api.problems import BadRequest, NotFound, Problem
from evbill.api.tariffs import SampleSession, TariffAdmin, parse, preview
from evbill.money import Money, MoneyError
from evbill.payments.provider import PaymentError
from evbill.payments.tables import PaymentAuthorizationRow, PaymentChargeRow, PaymentDunningRow
from evbill.portal.charts import Bar, bar_chart
from evbill.portal.csrf import CsrfCheck
from evbill.portal.page import page
from evbill.store.tables import SessionRow, StationRow
from evbill.tariffs import loads

router = APIRouter(prefix="/portal/operator", include_in_schema=False)
Staff = Annotated[Principal, Depends(Allow(*STAFF, portal=True))]
Admin = Annotated[Principal, Depends(Allow(Role.OPERATOR_ADMIN, portal=True))]
Checked = [Depends(CsrfCheck())]
TZ = "Europe/Berlin"


@router.get("")
def dashboard(request: Request, who: Staff) -> Response:
    ctx = context_of(request)
    zone, now = ZoneInfo(TZ), ctx.clock()
    today = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    with ctx.db.read_sessions() as s:
        stations = network_stations(s, who.network)
        ids = select(StationRow.id).where(StationRow.operator == who.network)
        sessions_today = s.scalar(select(func.count()).select_from(SessionRow).where(
            SessionRow.station_id.in_(ids), SessionRow.started_at >= today)) or 0
        days = revenue_by_day(s, who.network, today - timedelta(days=29),
                              today + timedelta(days=1), TZ)  # fmt: skip
        failed = s.scalar(select(func.count()).select_from(PaymentAuthorizationRow).where(
            PaymentAuthorizationRow.station_id.in_(ids),
            PaymentAuthorizationRow.status.in_(("declined", "capture_failed")))) or 0
        held = s.scalars(select(SessionRow).where(
            SessionRow.station_id.in_(ids), SessionRow.state == "held")
            .order_by(SessionRow.id.desc()).limit(20)).all()  # fmt: skip
    bars = [Bar(d.day.strftime("%d"), sum((m.amount for m in d.revenue.values()), Decimal(0)),
                f"{d.day:%a %d %b}: {_money_text(d.revenue)} from {d.sessions} sessions")
            for d in days]  # fmt: skip
    chart = bar_chart(bars, title="Revenue per day, last 30 days (incl. VAT)", unit="EUR",
                      chart_id="chart-revenue")
    total = sum((b.value for b in bars), Decimal(0))
    return page(request, "op_dashboard.html", who, stations=stations, chart=chart,
                sessions_today=sessions_today, failed=failed, total=Money(total, "EUR"),
                held=held, tz=zone)


def _money_text(revenue: dict[str, Money]) -> str:
    return ", ".join(str(m) for m in revenue.values()) or "0.00"


# --- tariffs ----------------------------------------------------------------------------
def _tariff_from_form(form: dict[str, str], now: datetime) -> dict[str, Any]:
    """An OCPI tariff from the editor's fields (prices excl. VAT, per kWh / minute / session)."""
    def dec(name: str) -> Decimal:
        try:
            value = Decimal((form.get(name) or "0").strip() or "0")
        except InvalidOperation:
            raise BadRequest(f"{name}: {form.get(name)!r} is not a number") from None
        if value < 0 or not value.is_finite():
            raise BadRequest(f"{name}: must be a positive number")
        return value

    vat = dec("vat")
    components: list[dict[str, Any]] = [
        {"type": "ENERGY", "price": dec("energy"), "vat": vat, "step_size": 1}]
    if dec("minute"):
        components.append({"type": "TIME", "price": dec("minute") * 60, "vat": vat,
                           "step_size": 60})
    if dec("parking"):
        components.append({"type": "PARKING_TIME", "price": dec("parking") * 60, "vat": vat,
                           "step_size": 60})
    if dec("flat"):
        components.append({"type": "FLAT", "price": dec("flat"), "vat": vat, "step_size": 1})
    tariff_id = (form.get("tariff_id") or "").strip()
    if not tariff_id or len(tariff_id) > 36:
        raise BadRequest("tariff_id: 1 to 36 characters")
    return {"country_code": "DE", "party_id": "EVB", "id": tariff_id, "currency": "EUR",
            "last_updated": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "elements": [{"price_components": components}]}


@router.get("/tariffs")
def tariffs(request: Request, who: Staff, flash: str | None = None) -> Response:
    ctx = context_of(request)
    admin = TariffAdmin(ctx.db, who.network)
    versions = admin.versions()
    latest = versions[-1] if versions else None
    values = {"tariff_id": "STANDARD", "energy": "0.30", "minute": "0", "parking": "0.10",
              "flat": "0", "vat": "19"}
    if latest is not None:
        values = _form_of(loads(latest.ocpi_json))
    with ctx.db.read_sessions() as s:
        stations = list(s.scalars(select(StationRow.id).where(
            StationRow.operator == who.network).order_by(StationRow.id)))
    rows = [(v, [p.summary for p in describe_tariff(
        parse(loads(v.ocpi_json)))]) for v in versions]  # fmt: skip
    return page(request, "op_tariffs.html", who, versions=rows, values=values,
                stations=stations, can_edit=who.role is Role.OPERATOR_ADMIN, flash=flash)


def _form_of(tariff: dict[str, Any]) -> dict[str, str]:
    values = {"tariff_id": str(tariff["id"]), "energy": "0", "minute": "0", "parking": "0",
              "flat": "0", "vat": "19"}
    for c in tariff["elements"][0]["price_components"]:
        price = Decimal(str(c["price"]))
        key = {"ENERGY": "energy", "TIME": "minute", "PARKING_TIME": "parking",
               "FLAT": "flat"}[c["type"]]
        shown = price / 60 if key in ("minute", "parking") else price
        values[key] = f"{shown.normalize():f}"
        if c.get("vat") is not None:
            values["vat"] = f"{Decimal(str(c['vat'])).normalize():f}"
    return values


@router.post("/tariffs/preview", dependencies=Checked)
async def tariff_preview(request: Request, who: Staff) -> Any:
    """The editor's live preview: the draft priced for the sample session it describes."""
    try:
        body = await request.json()
    except ValueError:
        raise BadRequest("body: expected the editor's fields as a JSON object") from None
    if not isinstance(body, dict):
        raise BadRequest("body: expected the editor's fields as a JSON object")
    form = {str(k): str(v) for k, v in body.items()}
    ctx = context_of(request)
    tariff = parse(_tariff_from_form(form, ctx.clock()))
    try:
        sample = SampleSession(datetime.fromisoformat(form.get("start") or "2026-03-02T18:00"
                                                      ).replace(tzinfo=ZoneInfo(TZ)),
                               Decimal(form.get("kwh") or "20"),
                               int(form.get("charge_min") or "60"),
                               int(form.get("park_min") or "0"), TZ)  # fmt: skip
    except (ValueError, InvalidOperation):
        raise BadRequest("sample: energy and minutes must be numbers") from None
    priced = preview(tariff, sample)
    total = priced.document_total
    return {"lines": [{"kind": line.kind.value, "quantity": f"{line.quantity.normalize():f}",
                       "unit": line.unit, "amount": str(line.rounded().incl_vat)}
                      for line in priced.lines],
            "total_incl_vat": str(total.incl_vat), "total_excl_vat": str(total.excl_vat),
            "prices": [p.summary for p in describe_tariff(tariff)]}


@router.post("/tariffs", dependencies=Checked)
async def save_tariff(request: Request, who: Admin) -> Response:
    ctx = context_of(request)
    form = {k: str(v) for k, v in (await request.form()).items()}
    station = form.get("station_id", "")
    try:
        data = _tariff_from_form(form, ctx.clock())
        stored = TariffAdmin(ctx.db, who.network).store(data, station, None, None, ctx.clock())
        note = f"Saved {stored.tariff_id} version {stored.version} for {station}."
    except Problem as exc:
        note = exc.detail
    return RedirectResponse(f"/portal/operator/tariffs?flash={note}", status_code=303)


# --- payments and refunds ---------------------------------------------------------------
@router.get("/payments")
def payments(request: Request, who: Staff, flash: str | None = None) -> Response:
    ctx = context_of(request)
    with ctx.db.read_sessions() as s:
        charges = list(s.scalars(select(PaymentChargeRow).where(
            PaymentChargeRow.operator == who.network)
            .order_by(PaymentChargeRow.created_at.desc()).limit(100)))  # fmt: skip
        ids = select(StationRow.id).where(StationRow.operator == who.network)
        failed = list(s.scalars(select(PaymentAuthorizationRow).where(
            PaymentAuthorizationRow.station_id.in_(ids),
            PaymentAuthorizationRow.status.in_(("declined", "capture_failed", "expired")))
            .order_by(PaymentAuthorizationRow.created_at.desc()).limit(100)))  # fmt: skip
        dunning = list(s.scalars(select(PaymentDunningRow).join(
            PaymentAuthorizationRow,
            PaymentAuthorizationRow.id == PaymentDunningRow.authorization_id).where(
            PaymentAuthorizationRow.station_id.in_(ids), PaymentDunningRow.status == "open")))
    return page(request, "op_payments.html", who, charges=charges, failed=failed,
                dunning=dunning, can_refund=who.role is Role.OPERATOR_ADMIN, flash=flash)


@router.post("/payments/{reference}/refund", dependencies=Checked)
def refund(
    request: Request, who: Admin, reference: str,
    amount: Annotated[str, Form(max_length=12)] = "",
    reason: Annotated[str, Form(max_length=200)] = "operator refund",
) -> Response:  # fmt: skip
    ctx = context_of(request)
    with ctx.db.read_sessions() as s:
        charge = s.scalars(select(PaymentChargeRow).where(
            PaymentChargeRow.reference == reference)).first()
    if charge is None or charge.operator != who.network:
        raise NotFound(f"reference: no charge {reference!r} on your network")
    try:
        value = Money.of(amount, charge.currency) if amount.strip() else None
        done = ctx.payments.refund(reference, value, reason=reason or "operator refund",
                                   actor=f"operator:{who.user_id}",
                                   key=f"refund:{reference}:{secrets.token_hex(6)}")
        note = f"Refunded {done.amount} of {reference}."
    except (PaymentError, MoneyError) as exc:
        note = f"refund refused: {exc}"
    return RedirectResponse(f"/portal/operator/payments?flash={note}", status_code=303)
