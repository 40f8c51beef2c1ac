"""Session ↔ payment orchestration: the `SessionHooks` the session service calls.

Before a start: an ad hoc card/wallet-pay token gets its pre-authorization hold (a decline or
an unfinished 3-D Secure challenge refuses the start), a prepaid wallet must hold the station
minimum, a postpaid account passes. While charging: the running cost (the samples so far,
rated with the session's tariff) raises the hold or stops the session at the limit through
the station command outbox. Once rated: capture exactly what the receipt shows (wallet: debit;
postpaid: receivable); a re-rating with another amount is corrected by an adjustment. Every
step is keyed by the session, so repeats (re-sent stops, re-ratings, retries) charge once.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError

from evbill.accounts.credentials import account_of, credential_key
from evbill.invoicing.settings import InvoicingSettings
from evbill.money import Money
from evbill.payments.account_modes import account_binding
from evbill.payments.charges import ChargeSource, running_cost
from evbill.payments.context import log
from evbill.payments.model import (
    HoldNotFound,
    HoldOutcome,
    HoldResult,
    PaymentStateError,
    RunningCostDecision,
    WalletBelowMinimum,
)
from evbill.payments.provider import PaymentError
from evbill.payments.service import PaymentService
from evbill.payments.session_settle import SessionSettler, set_status
from evbill.payments.settlement_failures import SettlementFailures
from evbill.payments.station_settlement import StationSettlements
from evbill.payments.tables import (
    PaymentAuthorizationRow,
    PaymentTokenBindingRow,
    SessionPaymentRow,
)
from evbill.sessions.commands import (
    AuthorizationResult,
    AuthorizationStatus,
    Authorize,
    StartSession,
)
from evbill.sessions.hooks import SettlementRecorded, StationSettlement
from evbill.sessions.state import SessionState
from evbill.store.database import Database
from evbill.store.outbox import StationCommandOutbox
from evbill.store.tables import CdrRow, SessionRow
from evbill.store.uow import UnitOfWork

__all__ = ["BillingSettings", "SessionBilling", "SweepReport"]

_OPEN = {SessionState.PENDING.value, SessionState.CHARGING.value,
         SessionState.SUSPENDED.value, SessionState.PARKED.value}
_MODES = ("adhoc", "wallet", "postpaid")
_UNPAID_CACHE = 10_000
_SETTLE_BATCH = 500


@dataclass(frozen=True, slots=True)
class BillingSettings:
    #: A hold no session claimed (authorized, never started) is voided after this long.
    unclaimed_hold_after: timedelta = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class SweepReport:
    unclaimed: tuple[str, ...] = ()
    stale: tuple[str, ...] = ()
    settled: tuple[str, ...] = field(default_factory=tuple)


def hold_reference(station_id: str, id_token: str, at: datetime) -> str:
    digest = hashlib.sha256(f"{station_id}|{id_token}|{at.isoformat()}".encode()).hexdigest()
    return f"ses_{digest[:32]}"


class SessionBilling:
    """Implements `evbill.sessions.hooks.SessionHooks` on a `PaymentService`."""

    def __init__(self, db: Database, payments: PaymentService, *,
                 invoicing: InvoicingSettings | None = None,
                 settings: BillingSettings | None = None) -> None:
        self.db = db
        self.payments = payments
        self.settings = settings or BillingSettings()
        self.charges = ChargeSource(db, invoicing or InvoicingSettings())
        self.outbox = StationCommandOutbox(db)
        self.settlements = StationSettlements(db, payments.ctx.ledger, self.charges,
                                              clock=self.clock)
        self.settler = SessionSettler(db, payments, self.charges, self.clock)
        self.failures = SettlementFailures(db, self.clock)
        #: Transactions seen started without a payment: their meter values skip the look-ups.
        self._unpaid: dict[tuple[str, str], None] = {}
        self._unpaid_lock = threading.Lock()

    def clock(self) -> datetime:
        return self.payments.ctx.clock()

    # --- bindings --------------------------------------------------------------------------
    def bind_token(self, id_token: str, mode: str, account: str,
                   payment_method_token: str | None = None) -> None:
        """Say how `id_token` pays: `adhoc` (a card/wallet-pay token), `wallet` or `postpaid`."""
        if mode not in _MODES:
            raise PaymentStateError(f"mode: {mode!r} is not one of {', '.join(_MODES)}")
        if mode == "adhoc" and not payment_method_token:
            raise PaymentStateError("payment_method_token: an ad hoc token needs a card token")
        with self.db.sessions() as s:
            s.merge(PaymentTokenBindingRow(id_token=id_token, mode=mode, account=account,
                                           payment_method_token=payment_method_token,
                                           created_at=self.clock()))
            s.commit()
        log.info("payments.token_bound mode=%s account=%s", mode, account)

    def _binding(self, id_token: str | None) -> PaymentTokenBindingRow | None:
        """The token's own binding (an ad hoc card, a driver's wallet card)."""
        if not id_token:
            return None
        with self.db.read_sessions() as r:
            return r.get(PaymentTokenBindingRow, id_token)

    def _account_binding(self, id_token: str | None) -> PaymentTokenBindingRow | None:
        """No binding of its own: its account's mode or the network default, as the operator
        chose (`account_modes`); an unsaved row."""
        if not id_token:
            return None
        with self.db.read_sessions() as r:
            return account_binding(r, id_token, self.clock())

    # --- hooks: may this token start? ----------------------------------------------------
    def check_authorize(self, cmd: Authorize, result: AuthorizationResult) -> AuthorizationResult:
        return self._admit(cmd.station_id, credential_key(cmd.id_token.value, cmd.id_token.type),
                           cmd.at, result)

    def check_start(self, cmd: StartSession, result: AuthorizationResult) -> AuthorizationResult:
        if cmd.id_token is None:
            return result
        return self._admit(cmd.station_id, credential_key(cmd.id_token.value, cmd.id_token.type),
                           cmd.started_at, result)

    def _admit(self, station_id: str, id_token: str, at: datetime,
               result: AuthorizationResult) -> AuthorizationResult:
        binding = self._binding(id_token) or self._account_binding(id_token)
        if binding is None or binding.mode == "postpaid":
            return result
        if binding.mode == "wallet":
            try:
                self.payments.check_wallet_start(binding.account, station_id)
            except WalletBelowMinimum:
                minimum = self.payments.ctx.settings.wallet_minimum_for(station_id)
                return _refused(AuthorizationStatus.BLOCKED, result,
                                f"wallet balance below the minimum {minimum}")
            return result
        hold = self._ensure_hold(binding, station_id, at)
        if hold.outcome is HoldOutcome.DECLINED:
            code = hold.decline_code.value if hold.decline_code else "declined"
            return _refused(AuthorizationStatus.BLOCKED, result, f"payment declined: {code}")
        if hold.outcome is HoldOutcome.REQUIRES_ACTION:
            return _refused(AuthorizationStatus.INVALID, result,
                            "complete the 3-D Secure check in the app, then try again")
        return result

    def _ensure_hold(self, binding: PaymentTokenBindingRow, station_id: str,
                     at: datetime) -> HoldResult:
        """The token's unclaimed hold at this station (refreshed), or a new one."""
        with self.db.read_sessions() as r:
            pending = r.scalars(select(SessionPaymentRow).where(
                SessionPaymentRow.station_id == station_id,
                SessionPaymentRow.id_token == binding.id_token,
                SessionPaymentRow.status == "holding",
                SessionPaymentRow.session_id.is_(None),
            ).order_by(SessionPaymentRow.created_at.desc())).first()
        if pending is not None:
            hold = self.payments.refresh_hold(pending.reference)
            if hold.outcome is not HoldOutcome.DECLINED:
                return hold
            self._set_status(pending.reference, "declined")
        reference = hold_reference(station_id, binding.id_token, at)
        now = self.clock()
        try:
            with self.db.sessions() as s:
                s.add(SessionPaymentRow(
                    reference=reference, mode="adhoc", station_id=station_id,
                    id_token=binding.id_token, account=binding.account, session_id=None,
                    status="holding", adjustments=0, stop_requested=False, created_at=now,
                    updated_at=now))
                s.commit()
        except IntegrityError:
            pass  # the same request again: the hold below answers as the first time
        assert binding.payment_method_token is not None
        hold = self.payments.authorize_hold(reference=reference, account=binding.account,
                                            payment_method_token=binding.payment_method_token,
                                            station_id=station_id)
        if hold.outcome is HoldOutcome.DECLINED:
            self._set_status(reference, "declined")
        return hold

    # --- hooks: after each committed event ---------------------------------------------
    def after_event(self, station_id: str, transaction_id: str) -> None:
        key = (station_id, transaction_id)
        if key in self._unpaid:
            return  # a started session payments has nothing to do with (no binding)
        with UnitOfWork(self.db, read_only=True) as uow:
            session = uow.sessions.by_transaction(station_id, transaction_id)
            if session is None:
                return
            cdr = uow.cdrs.for_session(session.id)
            uow.session.expunge_all()
        payment = self._payment_for(session)
        if payment is None:
            if session.start_received:  # its token and answer are final now
                self._remember_unpaid(key)
            return
        if session.state in _OPEN and payment.mode == "adhoc":
            self._watch_cost(session, payment)
        elif (session.state == SessionState.RATED.value and cdr is not None
              and not self.failures.waiting(payment.reference)):
            # Isolated: a failure is recorded and retried by the sweep with back-off (then
            # dead-lettered), never raised into the gateway's handling of the message.
            self.failures.run(payment.reference, "session", session.station_id,
                              lambda: self._settle(payment, cdr))

    def _remember_unpaid(self, key: tuple[str, str]) -> None:
        with self._unpaid_lock:  # the gateway calls hooks from several threads
            self._unpaid[key] = None
            while len(self._unpaid) > _UNPAID_CACHE:
                self._unpaid.pop(next(iter(self._unpaid)), None)

    def _payment_for(self, session: SessionRow) -> SessionPaymentRow | None:
        with self.db.read_sessions() as r:
            found = r.scalar(select(SessionPaymentRow)
                             .where(SessionPaymentRow.session_id == session.id))
        if found is not None:
            return found
        if session.authorization_status != AuthorizationStatus.ACCEPTED.value:
            return None
        binding = self._binding(session.id_token)
        if binding is None:
            adopted = self._adopt(session)
            if adopted is not None:
                return adopted
            binding = self._account_binding(session.id_token)
            if binding is None:
                return None
        return self._claim(session, binding)

    def _adopt(self, session: SessionRow) -> SessionPaymentRow | None:
        """An unbound token whose account already holds an authorized, unclaimed session hold
        at this station (the API's ad hoc page places it before the remote start): that hold
        becomes the session's, so the running cost raises it or stops at the limit and the
        rating captures it, as for a bound card token."""
        if not session.id_token:
            return None
        with self.db.read_sessions() as r:
            account = account_of(r, session.id_token)
            if not account:
                return None
            claimed = select(SessionPaymentRow.reference).where(
                SessionPaymentRow.reference == PaymentAuthorizationRow.reference)
            reference = r.scalar(select(PaymentAuthorizationRow.reference).where(
                PaymentAuthorizationRow.account == account,
                PaymentAuthorizationRow.purpose == "session",
                PaymentAuthorizationRow.station_id == session.station_id,
                PaymentAuthorizationRow.status == "authorized", ~claimed.exists(),
            ).order_by(PaymentAuthorizationRow.created_at.desc()))
        if reference is None:
            return None
        now = self.clock()
        with self.db.sessions() as s:
            s.add(SessionPaymentRow(
                reference=reference, mode="adhoc", station_id=session.station_id,
                id_token=session.id_token, account=account, session_id=session.id,
                status="claimed", adjustments=0, stop_requested=False, created_at=now,
                updated_at=now))
            try:
                s.commit()
            except IntegrityError:
                s.rollback()  # adopted concurrently: read the winner
        log.info("payments.hold_adopted reference=%s session_id=%s", reference, session.id)
        with self.db.read_sessions() as r:
            return r.scalar(select(SessionPaymentRow)
                            .where(SessionPaymentRow.session_id == session.id))

    def _claim(self, session: SessionRow, binding: PaymentTokenBindingRow,
               ) -> SessionPaymentRow | None:
        """Tie the session to its hold (ad hoc) or open its payment (wallet, postpaid)."""
        now = self.clock()
        with self.db.sessions() as s:
            if binding.mode == "adhoc":
                reference = s.scalar(select(SessionPaymentRow.reference).where(
                    SessionPaymentRow.station_id == session.station_id,
                    SessionPaymentRow.id_token == binding.id_token,
                    SessionPaymentRow.status == "holding",
                    SessionPaymentRow.session_id.is_(None),
                ).order_by(SessionPaymentRow.created_at.desc()))
                if reference is None:
                    log.warning("payments.no_hold session_id=%s station_id=%s", session.id,
                                session.station_id)
                    return None
                s.execute(update(SessionPaymentRow).where(
                    SessionPaymentRow.reference == reference,
                    SessionPaymentRow.session_id.is_(None),
                ).values(session_id=session.id, status="claimed", updated_at=now))
            else:
                s.add(SessionPaymentRow(
                    reference=f"session:{session.id}", mode=binding.mode,
                    station_id=session.station_id, id_token=binding.id_token,
                    account=binding.account, session_id=session.id, status="claimed",
                    adjustments=0, stop_requested=False, created_at=now, updated_at=now))
            try:
                s.commit()
            except IntegrityError:
                s.rollback()  # claimed concurrently: read the winner
        with self.db.read_sessions() as r:
            return r.scalar(select(SessionPaymentRow)
                            .where(SessionPaymentRow.session_id == session.id))

    # --- while charging ------------------------------------------------------------------
    def _watch_cost(self, session: SessionRow, payment: SessionPaymentRow) -> None:
        if payment.stop_requested:
            return
        cost = running_cost(self.db, session.id)
        if cost is None or cost.is_zero():
            return
        try:
            decision = self.payments.on_running_cost(payment.reference, cost)
        except (PaymentStateError, HoldNotFound):
            return  # the hold is no longer open (voided, expired): nothing to raise
        if decision is RunningCostDecision.STOP:
            self._request_stop(session, payment, cost)

    def _request_stop(self, session: SessionRow, payment: SessionPaymentRow,
                      cost: Money) -> None:
        from evbill.ocpp.outbox import REMOTE_STOP, remote_stop_payload

        with self.db.sessions() as s:
            result = s.execute(update(SessionPaymentRow).where(
                SessionPaymentRow.reference == payment.reference,
                SessionPaymentRow.stop_requested.is_(False),
            ).values(stop_requested=True, updated_at=self.clock()))
            won = cast("CursorResult[Any]", result).rowcount
            s.commit()
        if not won:
            return
        assert session.transaction_id is not None
        self.outbox.enqueue(session.station_id, REMOTE_STOP,
                            remote_stop_payload(session.transaction_id), now=self.clock())
        log.info("payments.limit_stop reference=%s station_id=%s transaction_id=%s cost=%s",
                 payment.reference, session.station_id, session.transaction_id, cost)

    # --- once rated ----------------------------------------------------------------------
    def _settle(self, payment: SessionPaymentRow, cdr: CdrRow) -> None:
        self.settler.settle(payment, cdr)

    def _set_status(self, reference: str, status: str) -> None:
        set_status(self.db, reference, status, self.clock())

    # --- periodic ------------------------------------------------------------------------
    def sweep(self, now: datetime | None = None) -> SweepReport:
        """Void holds no session claimed, release stale/expired ones, settle what is due."""
        now = now or self.clock()
        before = now - self.settings.unclaimed_hold_after
        with self.db.read_sessions() as r:
            unclaimed = list(r.scalars(select(SessionPaymentRow.reference).where(
                SessionPaymentRow.status == "holding", SessionPaymentRow.session_id.is_(None),
                SessionPaymentRow.created_at <= before)))
        for reference in unclaimed:
            try:
                self.payments.void(reference, actor="sweep", reason="session never started")
            except (PaymentStateError, HoldNotFound) as exc:
                log.info("payments.sweep_skip reference=%s reason=%s", reference, exc)
            except PaymentError as exc:  # the provider failed: try again at the next sweep
                log.warning("payments.sweep_void_failed reference=%s error=%s", reference, exc)
                continue
            self._set_status(reference, "released")
        stale = self.payments.sweep_holds(now)
        for reference in stale:
            self._set_status(reference, "released")
        return SweepReport(tuple(unclaimed), tuple(stale), tuple(self.settle_due()))

    def settle_due(self) -> list[str]:
        """Charge every rated session whose payment a failed hook call left open; each in
        isolation, skipping those waiting for their back-off or dead-lettered."""
        now = self.clock()
        with self.db.read_sessions() as r:
            due = list(r.execute(
                select(SessionRow.station_id, SessionRow.transaction_id,
                       SessionPaymentRow.reference)
                .join(SessionPaymentRow, SessionPaymentRow.session_id == SessionRow.id)
                .where(SessionRow.state == SessionState.RATED.value,
                       SessionPaymentRow.status == "claimed",
                       ~self.failures.blocked(SessionPaymentRow.reference, now))
                .order_by(SessionPaymentRow.created_at).limit(_SETTLE_BATCH)))
        done = []
        for station_id, transaction_id, reference in due:
            self.after_event(station_id, transaction_id or "")
            with self.db.read_sessions() as r:
                status = r.scalar(select(SessionPaymentRow.status)
                                  .where(SessionPaymentRow.reference == reference))
            if status != "claimed":
                done.append(f"{station_id}/{transaction_id}")
        return done

    # --- OCPP 2.1 payment at the station's terminal ---------------------------------------
    def record_settlement(self, cmd: StationSettlement) -> SettlementRecorded:
        return self.settlements.record(cmd)


def _refused(status: AuthorizationStatus, result: AuthorizationResult,
             reason: str) -> AuthorizationResult:
    return AuthorizationResult(status, result.group_id, reason=reason)
