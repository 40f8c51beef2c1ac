"""Operator money views: ad hoc payments (failed ones first), refunds, reconciliation."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from evbill.api.adhoc import AdhocService
from evbill.api.auth import STAFF, Allow, Principal, Role
from evbill.api.context import context_of
from evbill.api.problems import BadRequest
from evbill.api.schemas import Body, MoneyOut, money_out
from evbill.api.tables import AdhocPaymentRow
from evbill.money import Money, MoneyError
from evbill.store.tables import CdrRow, SessionRow, StationRow

router = APIRouter(prefix="/api/v1/operator", tags=["payments"])
Staff = Annotated[Principal, Depends(Allow(*STAFF))]
Admin = Annotated[Principal, Depends(Allow(Role.OPERATOR_ADMIN))]

FAILED = ("declined", "capture_failed")


class PaymentOut(BaseModel):
    id: str
    station_id: str
    evse_id: int
    status: str
    decline_code: str | None
    held: MoneyOut
    captured: MoneyOut | None
    refunded: MoneyOut | None
    created_at: datetime


class RefundIn(Body):
    amount: str | None = Field(default=None, pattern=r"^\d{1,6}(\.\d{1,2})?$",
                               description="omit to refund everything captured")


class ReconOut(BaseModel):
    payment_id: str
    cdr_id: str | None
    cdr_total: MoneyOut | None
    captured: MoneyOut | None
    difference: MoneyOut | None
    matched: bool


def _out(row: AdhocPaymentRow) -> PaymentOut:
    def m(value: object) -> MoneyOut | None:
        return None if value is None else money_out(Money.of(value, row.currency))

    held = m(row.amount)
    assert held is not None
    return PaymentOut(id=row.id, station_id=row.station_id, evse_id=row.evse_id,
                      status=row.status, decline_code=row.decline_code, held=held,
                      captured=m(row.captured), refunded=m(row.refunded),
                      created_at=row.created_at)  # fmt: skip


def _network_payments(request: Request, operator: str, statuses: tuple[str, ...] = ()
                      ) -> list[AdhocPaymentRow]:  # fmt: skip
    with context_of(request).db.read_sessions() as s:
        stations = select(StationRow.id).where(StationRow.operator == operator)
        stmt = select(AdhocPaymentRow).where(AdhocPaymentRow.station_id.in_(stations))
        if statuses:
            stmt = stmt.where(AdhocPaymentRow.status.in_(statuses))
        return list(s.scalars(stmt.order_by(AdhocPaymentRow.created_at.desc()).limit(200)))


@router.get("/payments")
def payments(request: Request, who: Staff) -> list[PaymentOut]:
    """Ad hoc payments on your network, newest first."""
    return [_out(r) for r in _network_payments(request, who.network)]


@router.get("/payments/failed")
def failed_payments(request: Request, who: Staff) -> list[PaymentOut]:
    """Declined holds and failed captures: the follow-up queue."""
    return [_out(r) for r in _network_payments(request, who.network, FAILED)]


@router.post("/payments/{payment_id}/refunds", status_code=201)
def refund(request: Request, who: Admin, payment_id: str, body: RefundIn) -> PaymentOut:
    ctx = context_of(request)
    service = AdhocService(ctx)
    try:
        with ctx.db.read_sessions() as s:
            row = s.get(AdhocPaymentRow, payment_id)
        amount = None if body.amount is None or row is None else Money.of(body.amount,
                                                                          row.currency)
    except MoneyError as exc:
        raise BadRequest(f"amount: {exc}") from None
    return _out(service.refund(who.network, payment_id, amount))


@router.get("/reconciliation")
def reconciliation(request: Request, who: Staff) -> list[ReconOut]:
    """Each settled ad hoc payment against its CDR: captured must equal the rounded total
    (or the hold, when the session cost more than was held)."""
    out = []
    with context_of(request).db.read_sessions() as s:
        stations = select(StationRow.id).where(StationRow.operator == who.network)
        rows = s.execute(
            select(AdhocPaymentRow, CdrRow)
            .outerjoin(SessionRow, SessionRow.id_token == AdhocPaymentRow.id_token)
            .outerjoin(CdrRow, CdrRow.session_id == SessionRow.id)
            .where(AdhocPaymentRow.station_id.in_(stations),
                   AdhocPaymentRow.status.in_(("captured", "refunded", "capture_failed")))
        ).tuples().all()  # fmt: skip
    for pay, cdr in rows:
        total = None
        if cdr is not None and cdr.total_cost_incl_vat is not None:
            total = Money(cdr.total_cost_incl_vat, cdr.currency).round_to_minor()
        captured = None if pay.captured is None else Money(pay.captured, pay.currency)
        expected = None if total is None else min(total.amount, pay.amount)
        diff = None if captured is None or expected is None else captured.amount - expected
        out.append(ReconOut(
            payment_id=pay.id, cdr_id=None if cdr is None else cdr.id,
            cdr_total=money_out(total), captured=money_out(captured),
            difference=None if diff is None else money_out(Money(diff, pay.currency)),
            matched=diff == 0))  # fmt: skip
    return out
