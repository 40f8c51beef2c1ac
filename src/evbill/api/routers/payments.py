"""Operator money views: charges on the network, failed payments and the dunning queue,
refunds, and reconciliation of charges against CDRs. All money state is the payment service's."""

from __future__ import annotations

import secrets
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request
from pydantic import BaseModel, Field
from sqlalchemy import or_, select

from evbill.accounts.roles import STAFF, Role
from evbill.api.auth import Allow, Principal
from evbill.api.context import context_of
from evbill.api.idempotency import claim_key
from evbill.api.params import Name, OptionalInstant
from evbill.api.problems import BadRequest, Conflict, NotFound, PaymentRequired
from evbill.api.schemas import Body, MoneyOut, money_out
from evbill.money import Money, MoneyError, minor_unit
from evbill.payments.model import ChargeNotFound, PaymentStateError
from evbill.payments.provider import InvalidPaymentRequest, PaymentError
from evbill.payments.settlement_failures import DEAD, RESOLVED, RETRYING, SettlementFailures
from evbill.payments.tables import PaymentAuthorizationRow, PaymentChargeRow, PaymentDunningRow
from evbill.store.references import cdr_for_reference
from evbill.store.tables import StationRow

router = APIRouter(prefix="/api/v1/operator", tags=["payments"])
Staff = Annotated[Principal, Depends(Allow(*STAFF))]
Admin = Annotated[Principal, Depends(Allow(Role.OPERATOR_ADMIN))]


def _m(amount: Decimal | None, currency: str) -> MoneyOut | None:
    return None if amount is None else money_out(Money(amount, currency))


class ChargeOut(BaseModel):
    reference: str
    method: str
    status: str
    gross: MoneyOut
    refunded: MoneyOut
    created_at: datetime


class HoldOut(BaseModel):
    reference: str
    station_id: str | None
    status: str
    decline_code: str | None
    held: MoneyOut
    created_at: datetime


class DunningOut(BaseModel):
    id: str
    reference: str
    amount: MoneyOut
    attempts: int
    last_error: str
    next_attempt_at: datetime | None


class FailedOut(BaseModel):
    holds: list[HoldOut]
    dunning: list[DunningOut]


class SettlementFailureOut(BaseModel):
    reference: str = Field(description="the settled item: CDR id, session payment or ad hoc id")
    kind: str = Field(description="driver | session | adhoc")
    station_id: str | None
    status: str = Field(description="retrying (next try at next_attempt_at) | dead | resolved")
    attempts: int
    last_error: str
    first_failed_at: datetime
    last_failed_at: datetime
    next_attempt_at: datetime | None


class RefundIn(Body):
    amount: str | None = Field(default=None, pattern=r"^\d{1,6}(\.\d{1,2})?$",
                               description="omit to refund everything still refundable")
    reason: str = Field(default="operator refund", min_length=1, max_length=200)


class RefundOut(BaseModel):
    id: str
    reference: str
    amount: MoneyOut
    method: str
    status: str


class ReconOut(BaseModel):
    reference: str
    cdr_id: str | None
    cdr_total: MoneyOut | None
    charged: MoneyOut
    difference: MoneyOut | None
    matched: bool


def _stations(operator: str) -> Any:
    return select(StationRow.id).where(StationRow.operator == operator)


def _hold_out(row: PaymentAuthorizationRow) -> HoldOut:
    held = _m(row.amount_held, row.currency)
    assert held is not None
    return HoldOut(reference=row.reference, station_id=row.station_id, status=row.status,
                   decline_code=row.decline_code, held=held, created_at=row.created_at)


@router.get("/payments")
def payments(request: Request, who: Staff) -> list[ChargeOut]:
    """What sessions on your network were charged, newest first."""
    with context_of(request).db.read_sessions() as s:
        rows = s.scalars(select(PaymentChargeRow).where(PaymentChargeRow.operator == who.network)
                         .order_by(PaymentChargeRow.created_at.desc()).limit(200))  # fmt: skip
        out = []
        for r in rows:
            gross, refunded = _m(r.gross, r.currency), _m(r.refunded, r.currency)
            assert gross is not None and refunded is not None
            out.append(ChargeOut(reference=r.reference, method=r.method, status=r.status,
                                 gross=gross, refunded=refunded, created_at=r.created_at))
        return out


@router.get("/payments/failed")
def failed_payments(request: Request, who: Staff) -> FailedOut:
    """Declined holds on your stations and captures waiting in the dunning queue."""
    with context_of(request).db.read_sessions() as s:
        holds = s.scalars(select(PaymentAuthorizationRow).where(
            PaymentAuthorizationRow.station_id.in_(_stations(who.network)),
            PaymentAuthorizationRow.status.in_(("declined", "expired", "capture_failed")))
            .order_by(PaymentAuthorizationRow.created_at.desc()).limit(200)).all()  # fmt: skip
        on_hold = PaymentAuthorizationRow.id == PaymentDunningRow.authorization_id
        dunning = s.scalars(select(PaymentDunningRow).join(PaymentAuthorizationRow, on_hold)
            .where(PaymentAuthorizationRow.station_id.in_(_stations(who.network)),
                   PaymentDunningRow.status == "open")).all()  # fmt: skip
        items = []
        for d in dunning:
            amount = _m(d.amount, d.currency)
            assert amount is not None
            items.append(DunningOut(id=d.id, reference=d.reference, amount=amount,
                                    attempts=d.attempts, last_error=d.last_error,
                                    next_attempt_at=d.next_attempt_at))  # fmt: skip
        return FailedOut(holds=[_hold_out(h) for h in holds], dunning=items)


@router.get("/settlement/failures")
def settlement_failures(request: Request, who: Staff,
                        include_resolved: bool = False) -> list[SettlementFailureOut]:
    """Sessions on your stations whose settlement failed: retrying with back-off, or dead
    (given up, waiting for you), each with its last error. Every other session settles."""
    ctx = context_of(request)
    statuses = (RETRYING, DEAD, RESOLVED) if include_resolved else (RETRYING, DEAD)
    rows = SettlementFailures(ctx.db, ctx.clock).listing(statuses, _stations(who.network))
    return [SettlementFailureOut(
        reference=r.reference, kind=r.kind, station_id=r.station_id, status=r.status,
        attempts=r.attempts, last_error=r.last_error, first_failed_at=r.first_failed_at,
        last_failed_at=r.last_failed_at, next_attempt_at=r.next_attempt_at) for r in rows]


@router.post("/settlement/failures/{reference}/retry")
def retry_settlement(request: Request, who: Admin,
                     reference: Annotated[str, Path(max_length=200)]) -> dict[str, str]:
    """The cause is fixed: settle this session again at the next pass (a few seconds)."""
    ctx = context_of(request)
    failures = SettlementFailures(ctx.db, ctx.clock)
    own = {r.reference for r in failures.listing((RETRYING, DEAD), _stations(who.network))}
    if reference not in own or not failures.requeue(reference):
        raise NotFound(f"reference: no failed settlement {reference!r} on your network")
    return {"reference": reference, "status": RETRYING}


def _own_charge(request: Request, operator: str, reference: str) -> PaymentChargeRow:
    with context_of(request).db.read_sessions() as s:
        row = s.scalars(select(PaymentChargeRow).where(
            PaymentChargeRow.reference == reference)).first()  # fmt: skip
    if row is None or row.operator != operator:
        raise NotFound(f"reference: no charge {reference!r} on your network")
    return row


@router.post("/payments/{reference}/refunds", status_code=201)
def refund(
    request: Request, who: Admin, reference: Name, body: RefundIn,
    idempotency_key: Annotated[str | None, Header(max_length=64)] = None,
) -> RefundOut:  # fmt: skip
    """Refund a charge (to the card, or back into the wallet); send an Idempotency-Key."""
    ctx = context_of(request)
    charge = _own_charge(request, who.network, reference)
    key = f"refund:{reference}:{idempotency_key or secrets.token_hex(8)}"
    try:
        amount = None if body.amount is None else Money.of(body.amount, charge.currency)
        if idempotency_key is not None:
            claim_key(ctx, f"refund:{who.network}:{reference}", idempotency_key,
                      {"amount": None if amount is None else amount.amount.normalize(),
                       "reason": body.reason})
        done = ctx.payments.refund(reference, amount, reason=body.reason,
                                   actor=f"operator:{who.user_id or 'api-key'}", key=key)
    except MoneyError as exc:
        raise BadRequest(f"amount: {exc}") from None
    except (PaymentStateError, ChargeNotFound, InvalidPaymentRequest) as exc:
        raise Conflict(f"amount: {exc}") from None
    except PaymentError as exc:
        raise PaymentRequired(f"refund: {exc}") from None
    shown = money_out(done.amount)
    assert shown is not None
    return RefundOut(id=done.id, reference=done.reference, amount=shown, method=done.method,
                     status=done.status)


def _own_dunning_item(request: Request, who: Principal, dunning_id: Name) -> None:
    """404 unless the dunning item belongs to a station of the caller's network."""
    ctx = context_of(request)
    with ctx.db.read_sessions() as s:
        item = s.get(PaymentDunningRow, dunning_id)
        hold = None if item is None else s.get(PaymentAuthorizationRow, item.authorization_id)
        station = None if hold is None or hold.station_id is None else s.get(StationRow,
                                                                             hold.station_id)
    if station is None or station.operator != who.network:
        raise NotFound(f"dunning_id: no dunning item {dunning_id!r}")


@router.post("/dunning/{dunning_id}/retry")
def retry_dunning(request: Request, who: Admin, dunning_id: Name) -> dict[str, str]:
    """Try a failed capture again now."""
    ctx = context_of(request)
    _own_dunning_item(request, who, dunning_id)
    try:
        status = ctx.payments.retry_dunning(dunning_id, actor=f"operator:{who.user_id}")
    except PaymentError as exc:
        raise Conflict(f"dunning_id: {exc}") from None
    return {"id": dunning_id, "status": status}


class WriteOffIn(BaseModel):
    reason: str = Field(min_length=3, max_length=500)


@router.post("/dunning/{dunning_id}/write-off")
def write_off_dunning(request: Request, who: Admin, dunning_id: Name,
                      body: WriteOffIn) -> dict[str, str]:
    """Give up on a failed capture: the item is closed and the hold released."""
    ctx = context_of(request)
    _own_dunning_item(request, who, dunning_id)
    try:
        ctx.payments.write_off(dunning_id, actor=f"operator:{who.user_id}", reason=body.reason)
    except PaymentError as exc:
        raise Conflict(f"dunning_id: {exc}") from None
    return {"id": dunning_id, "status": "written_off"}


@router.get("/reconciliation")
def reconciliation(request: Request, who: Staff, since: OptionalInstant = None) -> list[ReconOut]:
    """Each charge against its CDR: the gross charged must equal the CDR total rounded to
    the minor unit (a card capture is capped at the hold)."""
    out = []
    with context_of(request).db.read_sessions() as s:
        stmt = select(PaymentChargeRow).where(PaymentChargeRow.operator == who.network)
        if since is not None:
            stmt = stmt.where(or_(PaymentChargeRow.created_at >= since))
        for charge in s.scalars(stmt.order_by(PaymentChargeRow.created_at).limit(1000)):
            cdr = cdr_for_reference(s, charge.reference)
            total = None
            if cdr is not None and cdr.total_cost_incl_vat is not None:
                places = Decimal(1).scaleb(-minor_unit(cdr.currency))
                total = cdr.total_cost_incl_vat.quantize(places, ROUND_HALF_UP)
            hold = None if charge.authorization_id is None else s.get(
                PaymentAuthorizationRow, charge.authorization_id)  # fmt: skip
            expected = total if total is None or hold is None else min(total, hold.amount_held)
            diff = None if expected is None else charge.gross - expected
            charged = _m(charge.gross, charge.currency)
            assert charged is not None
            out.append(ReconOut(reference=charge.reference, cdr_id=None if cdr is None else cdr.id,
                                cdr_total=_m(total, charge.currency), charged=charged,
                                difference=_m(diff, charge.currency), matched=diff == 0))
    return out
