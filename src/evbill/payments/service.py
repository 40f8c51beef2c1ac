"""`PaymentService`: the one entry point of the payment flows for the session service, the API
and the CLI. Card holds and captures, wallets, postpaid, refunds, voids, dunning, webhooks.

Every money movement posts to the ledger under an idempotency key derived from the provider's
or the session's id, and every provider call carries an idempotency key derived from the
session reference, so each step can be repeated safely after any failure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from evbill.clock import utc_now
from evbill.ledger.service import LedgerService
from evbill.money import Money
from evbill.payments.cards import CardPayments
from evbill.payments.context import PaymentContext, log, new_id
from evbill.payments.dunning import Dunning, DunningItem
from evbill.payments.events import PaymentListener
from evbill.payments.model import (
    HoldResult,
    PaymentSettings,
    PaymentStateError,
    RunningCostDecision,
    SessionCharge,
)
from evbill.payments.provider import (
    InvalidPaymentRequest,
    PaymentMethod,
    PaymentMethodKind,
    PaymentMethodTaken,
    PaymentProvider,
    TokenVault,
)
from evbill.payments.refunds import RefundResult, Refunds
from evbill.payments.retry import RetryingProvider
from evbill.payments.tables import PaymentAuditRow, PaymentMethodRow
from evbill.payments.wallets import WalletPayments
from evbill.payments.webhook_handler import WebhookHandler, WebhookOutcome
from evbill.store.database import Database

__all__ = ["PaymentService"]


def _unwrap(provider: PaymentProvider) -> PaymentProvider:
    """The provider under any retry wrappers (vault calls are not payment operations)."""
    while isinstance(provider, RetryingProvider):
        provider = provider.inner
    return provider


class PaymentService:
    def __init__(
        self,
        db: Database,
        provider: PaymentProvider,
        ledger: LedgerService,
        *,
        settings: PaymentSettings | None = None,
        clock: Callable[[], datetime] = utc_now,
        ids: Callable[[str], str] = new_id,
        listeners: Sequence[PaymentListener] = (),
    ) -> None:
        self.ctx = PaymentContext(db, provider, ledger, clock, settings or PaymentSettings(),
                                  ids, listeners)
        self.dunning = Dunning(self.ctx)
        self.cards = CardPayments(self.ctx, self.dunning)
        self.wallets = WalletPayments(self.ctx)
        self.refunds = Refunds(self.ctx, self.wallets)
        self.webhooks = WebhookHandler(self.ctx, self.cards, self.dunning)

    # --- payment methods -------------------------------------------------------------------
    def add_card(self, account: str, card_number: str, exp_month: int, exp_year: int,
                 cvc: str) -> PaymentMethod:
        """Vault a card at the provider (sandbox) and keep only token and display data."""
        tokenize = getattr(_unwrap(self.ctx.provider), "tokenize", None)
        if tokenize is None:
            raise PaymentStateError(
                f"provider: {self.ctx.provider.name} tokenizes cards client-side; "
                "register the resulting token with add_payment_method")
        method: PaymentMethod = tokenize(card_number, exp_month, exp_year, cvc)
        return self.add_payment_method(account, method.token)

    def add_payment_method(self, account: str, token: str) -> PaymentMethod:
        """Register a token the provider issued (Stripe.js, Apple/Google Pay) for `account`.

        A method belongs to the customer who attached it first: the provider confirms the
        owner (`TokenVault.claim`, the account being the provider-side customer), and evbill's
        own record is never moved to another account. Adding one's own method again is a
        no-op; another's raises `PaymentMethodTaken`."""
        vault = _unwrap(self.ctx.provider)
        if not isinstance(vault, TokenVault):
            raise PaymentStateError(f"provider: {self.ctx.provider.name} has no vault look-up")
        self._check_not_anothers(account, token)
        method = vault.claim(token, account)
        self._store_method(account, method)
        return method

    def _check_not_anothers(self, account: str, token: str) -> None:
        with self.ctx.read() as r:
            owner = r.scalar(select(PaymentMethodRow.account)
                             .where(PaymentMethodRow.token == token))
        if owner is not None and owner != account:
            log.warning("payments.method_takeover_refused account=%s", account)
            raise PaymentMethodTaken(
                "payment_method_token: this payment method belongs to another customer")

    def payment_methods(self, account: str) -> list[PaymentMethod]:
        with self.ctx.read() as r:
            rows = r.scalars(select(PaymentMethodRow).where(PaymentMethodRow.account == account)
                             .order_by(PaymentMethodRow.created_at)).all()
        return [PaymentMethod(row.token, PaymentMethodKind(row.kind), row.brand, row.last4,
                              row.exp_month, row.exp_year) for row in rows]

    def remove_payment_method(self, account: str, token: str, *, actor: str) -> bool:
        """Forget one of `account`'s saved payment methods (False: it has no such method).
        Holds and charges already made with it keep their own records."""
        with self.ctx.session() as s:
            row = s.get(PaymentMethodRow, token)
            if row is None or row.account != account:
                return False
            s.delete(row)
            self.ctx.audit(s, "payment_method_removed", token, actor, brand=row.brand,
                           last4=row.last4)
            s.commit()
        return True

    def _store_method(self, account: str, method: PaymentMethod) -> None:
        """Insert, never merge: a row of another account is never overwritten (two accounts
        racing for one token: the second insert fails and is refused)."""
        with self.ctx.session() as s:
            existing = s.get(PaymentMethodRow, method.token)
            if existing is not None:
                if existing.account != account:
                    raise PaymentMethodTaken(
                        "payment_method_token: this payment method belongs to another customer")
                return  # already saved for this account
            s.add(PaymentMethodRow(
                token=method.token, provider=self.ctx.provider.name, account=account,
                kind=method.kind.value, brand=method.brand, last4=method.last4,
                exp_month=method.exp_month, exp_year=method.exp_year,
                created_at=self.ctx.clock()))
            try:
                s.commit()
            except IntegrityError:
                s.rollback()
                raise PaymentMethodTaken(
                    "payment_method_token: this payment method belongs to another customer"
                ) from None
        log.info("payments.method_added account=%s brand=%s last4=%s", account, method.brand,
                 method.last4)

    # --- ad hoc card / wallet-pay / contactless --------------------------------------------
    def authorize_hold(self, *, reference: str, account: str, payment_method_token: str,
                       station_id: str | None = None) -> HoldResult:
        return self.cards.authorize_hold(reference=reference, account=account,
                                         payment_method_token=payment_method_token,
                                         station_id=station_id)

    def refresh_hold(self, reference: str) -> HoldResult:
        return self.cards.refresh_hold(reference)

    def on_running_cost(self, reference: str, running_cost: Money) -> RunningCostDecision:
        return self.cards.on_running_cost(reference, running_cost)

    def capture(self, charge: SessionCharge) -> str:
        return self.cards.capture(charge.reference, charge)

    def void(self, reference: str, *, actor: str, reason: str) -> None:
        self.cards.void(reference, actor=actor, reason=reason)

    def sweep_holds(self, now: datetime | None = None) -> list[str]:
        return self.cards.sweep(now)

    # --- prepaid and postpaid --------------------------------------------------------------
    def wallet_balance(self, account: str) -> Money:
        return self.wallets.balance(account)

    def top_up(self, account: str, amount: Money, payment_method_token: str, key: str) -> Money:
        return self.wallets.top_up(account, amount, payment_method_token, key)

    def check_wallet_start(self, account: str, station_id: str | None) -> Money:
        return self.wallets.check_start(account, station_id)

    def pay_from_wallet(self, account: str, charge: SessionCharge) -> Money:
        return self.wallets.pay(account, charge)

    def post_to_account(self, customer: str, charge: SessionCharge) -> None:
        self.wallets.post_to_account(customer, charge)

    # --- after the fact --------------------------------------------------------------------
    def refund(self, reference: str, amount: Money | None, *, reason: str, actor: str,
               key: str) -> RefundResult:
        return self.refunds.refund(reference, amount, reason=reason, actor=actor, key=key)

    def dunning_queue(self, *, status: str = "open") -> list[DunningItem]:
        return self.dunning.queue(status=status)

    def retry_dunning(self, dunning_id: str, *, actor: str) -> str:
        return self.dunning.retry(dunning_id, actor=actor)

    def write_off(self, dunning_id: str, *, actor: str, reason: str) -> None:
        """Give up on a capture: close the item and release the hold."""
        item = self.dunning.close(dunning_id, "written_off", actor=actor, reason=reason)
        row = self.ctx.load_hold(item.reference)
        row.status = "authorized"  # a failed capture leaves the hold in place at the provider
        try:
            self.cards.release(row, actor, f"written off: {reason}", void=True)
        except InvalidPaymentRequest:  # it expired at the provider meanwhile
            self.cards.release(row, actor, f"written off: {reason}", void=False)

    def handle_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookOutcome:
        return self.webhooks.handle(headers, body)

    def audit_trail(self, reference: str) -> list[tuple[datetime, str, str, dict[str, str]]]:
        with self.ctx.read() as r:
            rows = r.scalars(select(PaymentAuditRow).where(PaymentAuditRow.reference ==
                                                           reference)
                             .order_by(PaymentAuditRow.id)).all()
        return [(row.at, row.action, row.actor, dict(row.detail)) for row in rows]
