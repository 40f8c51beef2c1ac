"""Public endpoints: the EVSE offer and ad hoc payment, the payer's status link, the
sandbox's card tokenization and 3-D Secure step, and provider webhooks."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from evbill.api.auth import Public
from evbill.api.commands import adhoc_service
from evbill.api.context import context_of
from evbill.api.live import live_view
from evbill.api.params import EvseId, Name
from evbill.api.plainwords import describe_tariff
from evbill.api.problems import BadRequest, NotFound
from evbill.api.schemas import Body, MoneyOut, kwh, money_out
from evbill.money import Money
from evbill.payments.provider import PaymentError, WebhookEventType, WebhookVerificationError
from evbill.payments.tables import AdhocPaymentRow, PaymentChargeRow
from evbill.store.uow import UnitOfWork

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["public"], dependencies=[Depends(Public())])
Key = Annotated[str, Query(min_length=8, max_length=64, description="the link's access key")]


class PriceOut(BaseModel):
    kind: str
    text: str
    condition: str
    vat: str


class OfferOut(BaseModel):
    station_id: str
    evse_id: int
    status: str
    currency: str
    prices: list[PriceOut]
    hold: MoneyOut


class PayIn(Body):
    payment_method_token: str = Field(min_length=1, max_length=128)


class PaymentStatusOut(BaseModel):
    payment_id: str
    status: str = Field(description="pending | starting | settled | failed")
    hold_status: str | None
    decline_code: str | None
    challenge_ref: str | None
    held: MoneyOut
    captured: MoneyOut | None
    session_state: str | None
    energy_kwh: str | None
    cost_so_far: MoneyOut | None
    cdr_id: str | None
    links: dict[str, str]
    at: datetime


@router.get("/public/evses/{station_id}/{evse_id}")
def evse_offer(request: Request, station_id: Name, evse_id: EvseId) -> OfferOut:
    """The EVSE's tariff in plain words (per kWh first) and the amount that will be held."""
    o = adhoc_service(context_of(request)).offer(station_id, evse_id)
    hold = money_out(o.hold)
    assert hold is not None
    return OfferOut(station_id=o.station_id, evse_id=o.evse_id, status=o.status,
                    currency=o.tariff.currency, hold=hold,
                    prices=[PriceOut(kind=p.kind, text=p.text, condition=p.condition,
                                     vat=p.vat_note) for p in describe_tariff(o.tariff)])


def payment_status(request: Request, row: AdhocPaymentRow, key: str) -> PaymentStatusOut:
    ctx = context_of(request)
    service = adhoc_service(ctx)
    hold, session = service.hold(row.id), service.session_of(row)
    energy = cost = cdr_id = None
    if session is not None:
        with UnitOfWork(ctx.db, read_only=True) as uow:
            cdr = uow.cdrs.for_session(session.id)
            live = live_view(uow, session, ctx.clock(), ctx.live_tariffs)
            energy = kwh(live.energy_wh)
            cost = money_out(live.cost.incl_vat) if live.cost else None
            if cdr is not None and cdr.total_cost_incl_vat is not None:
                cost, cdr_id = money_out(Money(cdr.total_cost_incl_vat, cdr.currency)), cdr.id
    with ctx.db.read_sessions() as s:
        charge = s.scalars(select(PaymentChargeRow).where(
            PaymentChargeRow.reference == row.id)).first()  # fmt: skip
    currency = hold.currency if hold is not None else "EUR"
    held = money_out(Money(hold.amount_held, currency) if hold else Money.zero(currency))
    assert held is not None
    return PaymentStatusOut(
        payment_id=row.id, status=row.status,
        hold_status=None if hold is None else hold.status,
        decline_code=None if hold is None else hold.decline_code,
        challenge_ref=hold.challenge_ref if hold is not None and hold.status ==
        "requires_action" else None,
        held=held, captured=None if charge is None else money_out(Money(charge.gross, currency)),
        session_state=None if session is None else session.state, energy_kwh=energy,
        cost_so_far=cost, cdr_id=cdr_id, at=ctx.clock(),
        links={"page": f"/pay/p/{row.id}?key={key}",
               "status": f"/api/v1/public/payments/{row.id}?key={key}"},
    )  # fmt: skip


@router.post("/public/evses/{station_id}/{evse_id}/payments", status_code=201)
def pay(request: Request, station_id: Name, evse_id: EvseId, body: PayIn) -> PaymentStatusOut:
    """Pay ad hoc with a provider token: the hold is placed and the charge starts (or a
    3-D Secure step is asked for first)."""
    row, key = adhoc_service(context_of(request)).pay(station_id, evse_id,
                                                     body.payment_method_token)
    return payment_status(request, row, key)


@router.get("/public/payments/{payment_id}")
def payment(request: Request, payment_id: Name, key: Key) -> PaymentStatusOut:
    return payment_status(request, adhoc_service(context_of(request)).find(payment_id, key), key)


@router.post("/public/payments/{payment_id}/confirm")
def confirm(request: Request, payment_id: Name, key: Key) -> PaymentStatusOut:
    """After the 3-D Secure step: start the charge if the hold now stands."""
    service = adhoc_service(context_of(request))
    return payment_status(request, service.confirm(service.find(payment_id, key)), key)


# --- the sandbox provider's client side ---------------------------------------------------
class CardIn(Body):
    number: str = Field(pattern=r"^[0-9 ]{12,23}$")
    exp_month: int = Field(ge=1, le=12)
    exp_year: int = Field(ge=2000, le=2100)
    cvc: str = Field(pattern=r"^[0-9]{3,4}$")


class CardTokenOut(BaseModel):
    token: str
    brand: str
    last4: str


class ChallengeIn(Body):
    success: bool


@router.post("/sandbox/tokens", status_code=201)
def sandbox_tokenize(request: Request, body: CardIn) -> CardTokenOut:
    """Sandbox only: what a provider's client library does in the browser (card → token).
    The card number is handed to the sandbox vault and never stored or logged by evbill."""
    provider = context_of(request).provider
    tokenize = getattr(provider, "tokenize", None)
    if tokenize is None:
        raise NotFound("sandbox: the configured payment provider is not the sandbox")
    try:
        card = tokenize(body.number.replace(" ", ""), body.exp_month, body.exp_year, body.cvc)
    except PaymentError as exc:
        raise BadRequest(f"card: {exc}") from None
    return CardTokenOut(token=card.token, brand=card.brand, last4=card.last4)


@router.post("/sandbox/challenges/{challenge_ref}")
def sandbox_challenge(request: Request, challenge_ref: Name, body: ChallengeIn) -> dict[str, str]:
    """Sandbox only: the issuer's 3-D Secure page, passed or failed."""
    provider = context_of(request).provider
    complete = getattr(provider, "complete_challenge", None)
    if complete is None:
        raise NotFound("sandbox: the configured payment provider is not the sandbox")
    try:
        auth = complete(challenge_ref, body.success)
    except PaymentError as exc:
        raise NotFound(f"challenge_ref: {exc}") from None
    return {"authorization_id": auth.id, "status": auth.status.value}


# --- provider webhooks --------------------------------------------------------------------
@router.post("/webhooks/payments", status_code=200)
async def provider_webhook(request: Request) -> dict[str, str]:
    """Signed provider events (signature, timestamp and replay are checked by the payment
    service); a finished 3-D Secure step starts the ad hoc charge it was for."""
    ctx = context_of(request)
    body = await request.body()
    try:
        outcome = ctx.payments.handle_webhook(dict(request.headers), body)
    except WebhookVerificationError as exc:
        raise BadRequest(f"webhook: {exc}") from None
    if outcome.type in (WebhookEventType.CHALLENGE_SUCCEEDED, WebhookEventType.CHALLENGE_FAILED):
        service = adhoc_service(ctx)
        with ctx.db.read_sessions() as s:
            pending = list(s.scalars(select(AdhocPaymentRow).where(
                AdhocPaymentRow.status == "pending").limit(50)))  # fmt: skip
        for row in pending:
            service.confirm(row)
    return {"received": outcome.event_id, "outcome": outcome.outcome}
