"""Settling rated sessions: ad hoc holds are captured, registered drivers pay from their
wallet (with a receipt) or are posted to their account for the monthly invoice.

Runs as a periodic pass (the app's background task, or a test calling it). Every step is
idempotent in the payment service, so two API processes settling at once charge nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import exists, select

from evbill.api.context import ApiContext
from evbill.api.tables import AdhocPaymentRow
from evbill.invoicing.compose import payment_split
from evbill.invoicing.model import DocumentError
from evbill.invoicing.sources import charged_session
from evbill.ledger.postings import VatLine
from evbill.money import Money
from evbill.payments.model import SessionCharge
from evbill.payments.provider import PaymentError
from evbill.payments.tables import PaymentChargeRow
from evbill.store.tables import CdrRow, IdTokenRow, SessionRow, StationRow

__all__ = ["DRIVER_PREFIX", "run_settler", "session_charge", "settle_due"]

log = logging.getLogger(__name__)

DRIVER_PREFIX = "driver."  # ledger account segments allow no colon
_BATCH = 200


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


def _settle_adhoc(ctx: ApiContext) -> list[str]:
    with ctx.db.read_sessions() as s:
        due = list(s.execute(
            select(AdhocPaymentRow.id, CdrRow.id)
            .join(SessionRow, SessionRow.id_token == AdhocPaymentRow.id_token)
            .join(CdrRow, CdrRow.session_id == SessionRow.id)
            .where(AdhocPaymentRow.status == "starting").limit(_BATCH)).tuples())  # fmt: skip
    done = []
    for payment_id, cdr_id in due:
        try:
            outcome = ctx.payments.capture(session_charge(ctx, payment_id, cdr_id))
        except (PaymentError, DocumentError) as exc:
            log.warning("settle.adhoc_failed payment_id=%s error=%s", payment_id, exc)
            continue
        with ctx.db.sessions() as s, s.begin():
            row = s.get(AdhocPaymentRow, payment_id)
            assert row is not None
            row.status, row.updated_at = "settled", ctx.clock()
        log.info("settle.adhoc payment_id=%s cdr_id=%s outcome=%s", payment_id, cdr_id, outcome)
        done.append(payment_id)
    return done


def _settle_drivers(ctx: ApiContext) -> list[str]:
    paid = exists().where(PaymentChargeRow.reference == CdrRow.id)
    with ctx.db.read_sessions() as s:
        due = list(s.execute(
            select(CdrRow.id, IdTokenRow.account)
            .join(SessionRow, SessionRow.id == CdrRow.session_id)
            .join(IdTokenRow, IdTokenRow.value == SessionRow.id_token)
            .where(IdTokenRow.account.like(f"{DRIVER_PREFIX}%"), ~paid)
            .order_by(CdrRow.id).limit(_BATCH)).tuples())  # fmt: skip
    done = []
    for cdr_id, account in due:
        assert account is not None
        try:
            charge = session_charge(ctx, cdr_id, cdr_id)
            if ctx.payments.wallet_balance(account).amount > 0:
                ctx.payments.pay_from_wallet(account, charge)
                ctx.invoicing.issue_receipt(cdr_id, now=ctx.clock())
            else:
                ctx.payments.post_to_account(account, charge)
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
