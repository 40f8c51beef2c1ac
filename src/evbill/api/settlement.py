"""Settling rated sessions: ad hoc payments record what the gateway's session billing hooks
did with their hold (the hooks capture it; this pass never does), registered drivers pay from
their wallet (with a receipt) or are posted to their account for the monthly invoice, as their
payment mode says (`evbill.api.payment_mode`), unless the gateway's hooks charged them.

Runs as a periodic pass (the app's background task, or a test calling it). Every step is
idempotent in the payment service, so two API processes settling at once charge nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, cast

from sqlalchemy import CursorResult, exists, or_, select, update

from evbill.api.adhoc import FAILED, STARTING
from evbill.api.context import ApiContext
from evbill.api.payment_mode import DRIVER_PREFIX, WALLET, token_payment
from evbill.api.tables import AdhocPaymentRow
from evbill.invoicing.compose import payment_split
from evbill.invoicing.model import DocumentError
from evbill.invoicing.sources import charged_session
from evbill.ledger.postings import VatLine
from evbill.money import Money
from evbill.payments.model import SessionCharge
from evbill.payments.provider import PaymentError
from evbill.payments.tables import PaymentAuthorizationRow, PaymentChargeRow, SessionPaymentRow
from evbill.store.tables import CdrRow, IdTokenRow, SessionRow, StationRow

__all__ = ["DRIVER_PREFIX", "SETTLED", "adhoc_outcome", "run_settler", "session_charge",
           "settle_due"]

log = logging.getLogger(__name__)

_BATCH = 200
SETTLED = "settled"


def session_charge(ctx: ApiContext, reference: str, cdr_id: str) -> SessionCharge:
    """The rated session's price split as the receipt will show it (net + VAT per rate)."""
    settings = ctx.invoicing.settings
    with ctx.db.read_sessions() as s:
        session = charged_session(s, cdr_id, country=settings.issuer_country)
        operator = s.scalars(select(StationRow.operator).where(
            StationRow.id == session.station_id)).first()  # fmt: skip
    net, vat = payment_split(session, settings.vat_table())
    cur = session.currency
    return SessionCharge(reference, operator or settings.operator_id, Money(net, cur),
                         tuple(VatLine(c, r, Money(v, cur)) for c, r, v in vat))


#: Hold states after which nothing more will be captured on it.
_HOLD_ENDED = ("released", "expired", "declined")
#: Session payment states in which the hooks will not charge the hold any more.
_PAYMENT_ENDED = (None, "released", "declined", "dunning")


def adhoc_outcome(session_payment: str | None, hold: str | None, captured: bool) -> str | None:
    """What an ad hoc payment's row says once the session billing hooks are done with its hold:
    `settled` (captured; or charged otherwise: a zero price voided the hold, a hold that ended
    before the session did went to the account), `failed` (the hold ended with nothing charged:
    never started, declined, or a failed capture written off), or None (still open)."""
    if captured or session_payment == "charged":
        return SETTLED
    if hold in _HOLD_ENDED and session_payment in _PAYMENT_ENDED:
        return FAILED
    return None


def _settle_adhoc(ctx: ApiContext) -> list[str]:
    """Record what the gateway's session billing hooks did with each ad hoc hold (they adopt
    it at the start and capture it once rated); this pass never calls the provider."""
    captured = exists().where(PaymentChargeRow.reference == AdhocPaymentRow.id)
    with ctx.db.read_sessions() as s:
        due = list(s.execute(
            select(AdhocPaymentRow.id, SessionPaymentRow.status, PaymentAuthorizationRow.status,
                   captured)
            .outerjoin(SessionPaymentRow, SessionPaymentRow.reference == AdhocPaymentRow.id)
            .outerjoin(PaymentAuthorizationRow,
                       PaymentAuthorizationRow.reference == AdhocPaymentRow.id)
            .where(AdhocPaymentRow.status == STARTING,
                   or_(captured, SessionPaymentRow.status == "charged",
                       PaymentAuthorizationRow.status.in_(_HOLD_ENDED)))
            .order_by(AdhocPaymentRow.created_at).limit(_BATCH)))  # fmt: skip
    done = []
    for payment_id, payment_status, hold_status, was_captured in due:
        outcome = adhoc_outcome(payment_status, hold_status, bool(was_captured))
        if outcome is None:
            continue
        with ctx.db.sessions() as s, s.begin():
            result = s.execute(update(AdhocPaymentRow).where(
                AdhocPaymentRow.id == payment_id, AdhocPaymentRow.status == STARTING,
            ).values(status=outcome, updated_at=ctx.clock()))  # fmt: skip
        if not cast("CursorResult[Any]", result).rowcount:
            continue  # another API process recorded it first
        log.info("settle.adhoc payment_id=%s status=%s", payment_id, outcome)
        if outcome == SETTLED:
            done.append(payment_id)
    return done


def _settle_drivers(ctx: ApiContext) -> list[str]:
    """Driver sessions the gateway's hooks did not take (no session payment: the card was not
    bound when the session started), paid as the card's or the account's mode says."""
    paid = exists().where(PaymentChargeRow.reference == CdrRow.id)
    hooked = exists().where(SessionPaymentRow.session_id == CdrRow.session_id)
    with ctx.db.read_sessions() as s:
        due = list(s.execute(
            select(CdrRow.id, IdTokenRow.value)
            .join(SessionRow, SessionRow.id == CdrRow.session_id)
            .join(IdTokenRow, IdTokenRow.value == SessionRow.id_token)
            .where(IdTokenRow.account.like(f"{DRIVER_PREFIX}%"), ~paid, ~hooked,
                   SessionRow.state == "rated")  # a held session waits for its review
            .order_by(CdrRow.id).limit(_BATCH)))  # fmt: skip
    done = []
    for cdr_id, id_token in due:
        with ctx.db.read_sessions() as s:
            payment = token_payment(s, id_token)
        assert payment is not None  # a driver's card
        try:
            charge = session_charge(ctx, cdr_id, cdr_id)
            if payment.mode == WALLET:
                ctx.payments.pay_from_wallet(payment.account, charge)
                ctx.invoicing.issue_receipt(cdr_id, now=ctx.clock())
            else:
                ctx.payments.post_to_account(payment.account, charge)
        except (PaymentError, DocumentError) as exc:
            log.warning("settle.driver_failed cdr_id=%s error=%s", cdr_id, exc)
            continue
        done.append(cdr_id)
    return done


def settle_due(ctx: ApiContext) -> list[str]:
    """One pass: every rated ad hoc or driver session not yet paid. Returns references."""
    return _settle_adhoc(ctx) + _settle_drivers(ctx)


async def run_settler(ctx: ApiContext, interval_s: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            settled = await asyncio.to_thread(settle_due, ctx)
            if settled:
                log.info("settle.pass settled=%d", len(settled))
        except Exception:  # a bad pass must not end the loop; it is logged and retried
            log.exception("settle.pass_failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
