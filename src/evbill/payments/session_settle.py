"""Settling a rated session's payment: the first charge (card capture, wallet debit or the
account's receivable) and, after a re-rating with another price, the adjustment (a refund of
the difference, or the difference charged), never a second capture.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select, update

from evbill.ledger.postings import VatLine
from evbill.money import Money
from evbill.payments.charges import ChargeSource
from evbill.payments.context import log
from evbill.payments.model import HoldNotFound, PaymentStateError, SessionCharge
from evbill.payments.service import PaymentService
from evbill.payments.tables import PaymentChargeRow, SessionPaymentRow
from evbill.sessions.state import SessionState
from evbill.store.database import Database
from evbill.store.tables import CdrRow, SessionRow

__all__ = ["SessionSettler", "set_status"]


def set_status(db: Database, reference: str, status: str, now: datetime) -> None:
    with db.sessions() as s:
        s.execute(update(SessionPaymentRow).where(SessionPaymentRow.reference == reference)
                  .values(status=status, updated_at=now))
        s.commit()


class SessionSettler:
    def __init__(self, db: Database, payments: PaymentService, charges: ChargeSource,
                 clock: Callable[[], datetime]) -> None:
        self.db = db
        self.payments = payments
        self.charges = charges
        self.clock = clock

    def settle(self, payment: SessionPaymentRow, cdr: CdrRow) -> None:
        """Charge a rated session once; a later CDR revision with another price is adjusted."""
        if payment.status == "dunning":
            return  # the dunning queue retries the capture
        if not self._is_rated(cdr):
            log.warning("payments.not_rated reference=%s cdr_id=%s", payment.reference, cdr.id)
            return  # held for review (or back to finished): nothing beyond the hold moves
        if payment.charged_gross is None:
            self._charge_first(payment, cdr)
        elif payment.cdr_revision != cdr.revision:
            self._adjust(payment, cdr)

    def _is_rated(self, cdr: CdrRow) -> bool:
        """Only a rated session is charged: a held one waits for an operator's resolve."""
        with self.db.read_sessions() as r:
            state = r.scalar(select(SessionRow.state).where(SessionRow.id == cdr.session_id))
        return state == SessionState.RATED.value

    def _charge_first(self, payment: SessionPaymentRow, cdr: CdrRow) -> None:
        reference = payment.reference if payment.mode == "adhoc" else cdr.id
        charge = self.charges.charge(cdr.id, reference, payment.account)
        if payment.mode == "adhoc":
            try:
                outcome = self.payments.capture(charge)
            except (PaymentStateError, HoldNotFound) as exc:
                # The hold ended before the session did (swept or expired): bill the account.
                log.warning("payments.capture_impossible reference=%s error=%s", reference, exc)
                reference = f"{payment.reference}:account"
                self.payments.post_to_account(payment.account, _renamed(charge, reference))
                outcome = "posted"
            if outcome == "dunning":
                set_status(self.db, payment.reference, "dunning", self.clock())
                return
        elif payment.mode == "wallet":
            self.payments.pay_from_wallet(payment.account, charge)
        else:
            self.payments.post_to_account(payment.account, charge)
        net, gross = self._charged(reference, charge.net.currency)
        self._record(payment.reference, reference, net, gross, charge.net.currency, cdr.revision)

    def _adjust(self, payment: SessionPaymentRow, cdr: CdrRow) -> None:
        """A re-rating changed the price: refund the difference or charge it, never capture
        a second time."""
        assert payment.charged_gross is not None and payment.charged_net is not None
        assert payment.charge_reference is not None
        charge = self.charges.charge(cdr.id, payment.charge_reference, payment.account)
        old_net = Money(payment.charged_net, charge.net.currency)
        old_gross = Money(payment.charged_gross, charge.net.currency)
        diff = charge.gross - old_gross
        key = f"{payment.reference}:rerate:{cdr.revision}"
        if diff.amount < 0 and not old_gross.is_zero():
            self.payments.refund(payment.charge_reference, -diff,
                                 reason=f"re-rated (CDR revision {cdr.revision})",
                                 actor="system", key=key)
        elif diff.amount > 0 or (diff.amount < 0 and old_gross.is_zero()):
            extra = _difference(charge, old_net, old_gross, key)
            if payment.mode == "wallet":
                self.payments.pay_from_wallet(payment.account, extra)
            else:
                self.payments.post_to_account(payment.account, extra)
        with self.db.sessions() as s:
            s.execute(update(SessionPaymentRow).where(
                SessionPaymentRow.reference == payment.reference).values(
                charged_net=charge.net.amount, charged_gross=charge.gross.amount,
                cdr_revision=cdr.revision, adjustments=SessionPaymentRow.adjustments + 1,
                updated_at=self.clock()))
            s.commit()
        log.info("payments.rerated reference=%s revision=%d difference=%s", payment.reference,
                 cdr.revision, diff)

    def _charged(self, reference: str, currency: str) -> tuple[Decimal, Decimal]:
        with self.db.read_sessions() as r:
            row = r.scalar(select(PaymentChargeRow).where(PaymentChargeRow.reference ==
                                                          reference))
        if row is None:  # a zero-cost session: the hold was voided, nothing charged
            return Decimal(0), Decimal(0)
        return row.net, row.gross

    def _record(self, reference: str, charge_reference: str, net: Decimal, gross: Decimal,
                currency: str, revision: int) -> None:
        with self.db.sessions() as s:
            s.execute(update(SessionPaymentRow).where(
                SessionPaymentRow.reference == reference).values(
                status="charged", charge_reference=charge_reference, charged_net=net,
                charged_gross=gross, currency=currency, cdr_revision=revision,
                updated_at=self.clock()))
            s.commit()
        log.info("payments.session_charged reference=%s gross=%s %s", reference, gross,
                 currency)


def _renamed(charge: SessionCharge, reference: str) -> SessionCharge:
    return SessionCharge(reference, charge.operator, charge.net, charge.vat)


def _difference(charge: SessionCharge, old_net: Money, old_gross: Money,
                reference: str) -> SessionCharge:
    """What a higher re-rated price adds: the net and VAT differences (one VAT line)."""
    net = charge.net - old_net
    vat_diff = (charge.gross - old_gross) - net
    lines: tuple[VatLine, ...] = ()
    if charge.vat:
        first = charge.vat[0]
        lines = (VatLine(first.country, first.rate, vat_diff),)
    else:
        net = net + vat_diff
    return SessionCharge(reference, charge.operator, net, lines)
