"""Settling rated sessions: ad hoc payments record what the gateway's session billing hooks
did with their hold (the hooks capture it; this pass never does), registered drivers pay from
their wallet (with a receipt) or are posted to their account for the monthly invoice, as their
payment mode says (`evbill.payments.modes`), unless the gateway's hooks charged them.

Every rated session settles, whatever its amount: a price that rounds to 0.00 is settled as
zero (nothing charged, no ledger entry, no document) and recorded like any other. Each item is
settled in isolation (`settlement_failures`): one that raises is retried with back-off and
then dead-lettered for the operator, and the pass goes on with the others.

Runs as a periodic pass (the app's background task, or a test calling it). Every step is
idempotent in the payment service, so two API processes settling at once charge nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from functools import partial
from typing import Any, cast

from sqlalchemy import CursorResult, exists, or_, select, update
from sqlalchemy.exc import IntegrityError

from evbill.accounts.credentials import session_credential
from evbill.invoicing.compose import payment_split
from evbill.invoicing.sources import charged_session, customer_party
from evbill.ledger.postings import VatLine
from evbill.money import Money
from evbill.payments.adhoc import FAILED, STARTING
from evbill.payments.app_context import PaymentsApp
from evbill.payments.model import SessionCharge
from evbill.payments.modes import DRIVER_PREFIX, WALLET, TokenPayment, token_payment
from evbill.payments.settlement_failures import SettlementFailures
from evbill.payments.tables import (
    AdhocPaymentRow,
    PaymentAuthorizationRow,
    PaymentChargeRow,
    SessionPaymentRow,
)
from evbill.store.tables import CdrRow, IdTokenRow, SessionRow, StationRow

__all__ = ["SETTLED", "adhoc_outcome", "run_settler", "session_charge", "settle_due"]

log = logging.getLogger(__name__)

_BATCH = 200
SETTLED = "settled"


def session_charge(ctx: PaymentsApp, reference: str, cdr_id: str,
                   account: str | None = None) -> SessionCharge:  # fmt: skip
    """The rated session's price split as its document will show it (net + VAT per rate,
    taxed for `account`'s billing profile)."""
    settings = ctx.invoicing.settings
    with ctx.db.read_sessions() as s:
        session = charged_session(s, cdr_id, country=settings.issuer_country)
        operator = s.scalars(select(StationRow.operator).where(
            StationRow.id == session.station_id)).first()  # fmt: skip
        customer = None if account is None else customer_party(s, account)
    net, vat = payment_split(session, settings.vat_rules(), customer)
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


def _settle_adhoc(ctx: PaymentsApp, failures: SettlementFailures) -> list[str]:
    """Record what the gateway's session billing hooks did with each ad hoc hold (they adopt
    it at the start and capture it once rated); this pass never calls the provider."""
    captured = exists().where(PaymentChargeRow.reference == AdhocPaymentRow.id)
    with ctx.db.read_sessions() as s:
        due = list(s.execute(
            select(AdhocPaymentRow.id, SessionPaymentRow.status, PaymentAuthorizationRow.status,
                   captured, AdhocPaymentRow.station_id)
            .outerjoin(SessionPaymentRow, SessionPaymentRow.reference == AdhocPaymentRow.id)
            .outerjoin(PaymentAuthorizationRow,
                       PaymentAuthorizationRow.reference == AdhocPaymentRow.id)
            .where(AdhocPaymentRow.status == STARTING,
                   or_(captured, SessionPaymentRow.status == "charged",
                       PaymentAuthorizationRow.status.in_(_HOLD_ENDED)),
                   ~failures.blocked(AdhocPaymentRow.id, ctx.clock()))
            .order_by(AdhocPaymentRow.created_at).limit(_BATCH)))  # fmt: skip
    done = []
    for payment_id, payment_status, hold_status, was_captured, station_id in due:
        outcome = adhoc_outcome(payment_status, hold_status, bool(was_captured))
        if outcome is None:
            continue
        recorded: list[str] = []
        failures.run(payment_id, "adhoc", station_id,
                     partial(_record_adhoc, ctx, payment_id, outcome, recorded))
        if recorded:
            log.info("settle.adhoc payment_id=%s status=%s", payment_id, outcome)
            if outcome == SETTLED:
                done.append(payment_id)
    return done


def _record_adhoc(ctx: PaymentsApp, payment_id: str, outcome: str, recorded: list[str]) -> None:
    """Write the outcome once (appended to `recorded`; not when another API process recorded
    it first)."""
    with ctx.db.sessions() as s, s.begin():
        result = s.execute(update(AdhocPaymentRow).where(
            AdhocPaymentRow.id == payment_id, AdhocPaymentRow.status == STARTING,
        ).values(status=outcome, updated_at=ctx.clock()))  # fmt: skip
    if cast("CursorResult[Any]", result).rowcount:
        recorded.append(payment_id)


def _settle_drivers(ctx: PaymentsApp, failures: SettlementFailures) -> list[str]:
    """Driver sessions the gateway's hooks did not take (no session payment: the card was not
    bound when the session started), paid as the card's or the account's mode says."""
    paid = exists().where(PaymentChargeRow.reference == CdrRow.id)
    hooked = exists().where(SessionPaymentRow.session_id == CdrRow.session_id)
    with ctx.db.read_sessions() as s:
        due = list(s.execute(
            select(CdrRow.id, CdrRow.session_id, SessionRow.station_id, IdTokenRow.value)
            .join(SessionRow, SessionRow.id == CdrRow.session_id)
            .join(IdTokenRow, session_credential())
            .where(IdTokenRow.account.like(f"{DRIVER_PREFIX}%"), ~hooked,
                   SessionRow.state == "rated",  # a held session waits for its review
                   or_(~paid, failures.retry_due(CdrRow.id, ctx.clock())),
                   ~failures.blocked(CdrRow.id, ctx.clock()))
            .order_by(CdrRow.id).limit(_BATCH)))  # fmt: skip
    done = []
    for cdr_id, session_id, station_id, id_token in due:
        with ctx.db.read_sessions() as s:
            payment = token_payment(s, id_token)
        if payment is None:
            continue  # the card left the driver's account meanwhile
        if failures.run(cdr_id, "driver", station_id,
                        partial(_settle_driver, ctx, cdr_id, session_id, payment)):
            done.append(cdr_id)
    return done


def _settle_driver(ctx: PaymentsApp, cdr_id: str, session_id: int,
                   payment: TokenPayment) -> None:
    """Charge one driver session (wallet + receipt, or the account) and record it as the
    session's payment; a zero price is recorded as settled with nothing charged."""
    charge = session_charge(ctx, cdr_id, cdr_id, payment.account)
    zero = charge.gross.is_zero()
    if payment.mode == WALLET:
        ctx.payments.pay_from_wallet(payment.account, charge)
        if not zero:
            ctx.invoicing.issue_receipt(cdr_id, now=ctx.clock())
    else:
        ctx.payments.post_to_account(payment.account, charge)
    _record_settled(ctx, session_id, payment, cdr_id, charge, zero=zero)


def _record_settled(ctx: PaymentsApp, session_id: int, payment: TokenPayment, cdr_id: str,
                    charge: SessionCharge, *, zero: bool) -> None:
    """The session's payment row, as the gateway's hooks write it, so no pass takes the
    session again (a zero price leaves no charge row behind to say so)."""
    now = ctx.clock()
    with ctx.db.read_sessions() as s:
        row = s.get(SessionRow, session_id)
        assert row is not None
        station_id, id_token = row.station_id, row.id_token or ""
        revision = s.scalar(select(CdrRow.revision).where(CdrRow.id == cdr_id))
    try:
        with ctx.db.sessions() as s, s.begin():
            s.add(SessionPaymentRow(
                reference=f"session:{session_id}", mode=payment.mode, station_id=station_id,
                id_token=id_token, account=payment.account, session_id=session_id,
                status="charged", charge_reference=None if zero else cdr_id,
                charged_net=charge.net.amount, charged_gross=charge.gross.amount,
                currency=charge.net.currency, cdr_revision=revision, adjustments=0,
                stop_requested=False, created_at=now, updated_at=now))
    except IntegrityError:
        pass  # recorded by another process (or the hooks) first


def settle_due(ctx: PaymentsApp, failures: SettlementFailures | None = None) -> list[str]:
    """One pass: every rated ad hoc or driver session not yet paid. Returns references."""
    failures = failures or SettlementFailures(ctx.db, ctx.clock)
    return _settle_adhoc(ctx, failures) + _settle_drivers(ctx, failures)


async def run_settler(ctx: PaymentsApp, interval_s: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            settled = await asyncio.to_thread(settle_due, ctx)
            if settled:
                log.info("settle.pass settled=%d", len(settled))
        except Exception:  # a bad pass must not end the loop; it is logged and retried
            log.exception("settle.pass_failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
