"""Prepaid wallets (top up by card, pay sessions from the balance, refuse starts below the
station minimum) and postpaid accounts (the session posts to the account's receivable).
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from evbill.ledger import postings
from evbill.money import Money
from evbill.payments.context import PaymentContext, log
from evbill.payments.events import notify_paid
from evbill.payments.model import (
    PaymentStateError,
    SessionCharge,
    WalletBelowMinimum,
    WalletTopupDeclined,
)
from evbill.payments.provider import AuthorizationStatus
from evbill.payments.tables import (
    PaymentAuthorizationRow,
    PaymentChargeRow,
    PaymentWalletMovementRow,
    PaymentWalletRow,
)

__all__ = ["WalletPayments"]


class WalletPayments:
    def __init__(self, ctx: PaymentContext) -> None:
        self.ctx = ctx

    def balance(self, account: str) -> Money:
        with self.ctx.read() as r:
            wallet = r.get(PaymentWalletRow, account)
        if wallet is None:
            return Money.zero(self.ctx.settings.currency)
        return Money(wallet.balance, wallet.currency)

    def check_start(self, account: str, station_id: str | None) -> Money:
        """Refuse a wallet-paid start below the station's minimum; returns the balance."""
        balance = self.balance(account)
        minimum = self.ctx.settings.wallet_minimum_for(station_id)
        if balance < minimum:
            raise WalletBelowMinimum(
                f"wallet: balance {balance} of {account!r} is below the minimum {minimum} "
                f"to start at {station_id or 'this station'}")
        return balance

    def top_up(self, account: str, amount: Money, payment_method_token: str, key: str) -> Money:
        """Charge a card (authorize and capture at once) and credit the wallet."""
        with self.ctx.read() as r:
            if r.scalar(select(PaymentWalletMovementRow.id)
                        .where(PaymentWalletMovementRow.idempotency_key == key)) is not None:
                return self.balance(account)
        provider = self.ctx.provider
        auth = provider.authorize(amount, payment_method_token, f"{key}:auth",
                                  {"reference": key, "purpose": "wallet_topup"})
        if auth.status is not AuthorizationStatus.AUTHORIZED:
            raise WalletTopupDeclined(
                auth.decline_code,
                f"top-up: the card was not charged ({auth.decline_code or auth.status.value})")
        capture = provider.capture(auth.id, amount, f"{key}:capture")
        self.ctx.post(f"payments:topup:{auth.id}", key,
                      lambda m: postings.wallet_topup(m, provider.name, account, amount))
        now = self.ctx.clock()
        hold = PaymentAuthorizationRow(
            id=self.ctx.ids("hold"), reference=key, purpose="topup", provider=provider.name,
            provider_ref=auth.id, account=account, station_id=None,
            payment_method_token=payment_method_token, currency=amount.currency,
            amount_held=amount.amount, status="captured", decline_code=None,
            challenge_ref=None, challenge_url=None, increments=0, limit_reached=False,
            expires_at=None, created_at=now, updated_at=now,
        )
        with self.ctx.session() as s:
            s.add(hold)
            balance = self._move(s, account, amount, key, "topup", reference=capture.id)
            s.commit()
        return balance

    def pay(self, account: str, charge: SessionCharge) -> Money:
        """Pay a session from the wallet. A cost above the balance still books (the energy
        was delivered) and the negative balance records why. A zero price (a sub-cent session
        rounds to 0.00) moves nothing: no ledger entry, no charge, no receipt."""
        existing = self._charge(charge.reference)
        if existing is not None or _nothing_due(charge):
            return self.balance(account)
        gross = charge.gross
        self.ctx.post(f"payments:wallet_spend:{charge.reference}", charge.reference,
                      lambda m: postings.wallet_spend(m, account, charge.operator, charge.net,
                                                      charge.vat))
        with self.ctx.session() as s:
            balance = self._move(s, account, -gross, f"{charge.reference}:wallet",
                                 "spend", reference=charge.reference)
            s.add(self._charge_row(account, charge, "wallet", "paid"))
            s.commit()
        notify_paid(self.ctx.listeners, charge.reference)
        return balance

    def post_to_account(self, customer: str, charge: SessionCharge) -> None:
        """Postpaid: book the session to the customer's receivable for the monthly invoice."""
        if _nothing_due(charge) or self._charge(charge.reference) is not None:
            return
        self.ctx.post(f"payments:postpaid:{charge.reference}", charge.reference,
                      lambda m: postings.postpaid_charge(m, customer, charge.operator,
                                                         charge.net, charge.vat))
        with self.ctx.session() as s:
            s.add(self._charge_row(customer, charge, "postpaid", "posted"))
            self.ctx.audit(s, "postpaid", charge.reference, "system", customer=customer,
                           gross=charge.gross)
            s.commit()

    def credit_refund(self, s: Session, account: str, amount: Money, key: str,
                      reference: str) -> Money:
        return self._move(s, account, amount, key, "refund", reference=reference)

    # --- helpers ---------------------------------------------------------------------------
    def _move(self, s: Session, account: str, amount: Money, key: str, kind: str, *,
              reference: str) -> Money:
        """Change the balance under a row lock; a negative result must say why."""
        wallet = s.get(PaymentWalletRow, account, with_for_update=True)
        if wallet is None:
            wallet = PaymentWalletRow(account=account, currency=amount.currency,
                                      balance=Decimal(0), updated_at=self.ctx.clock())
            s.add(wallet)
            s.flush()
        if wallet.currency != amount.currency:
            raise PaymentStateError(
                f"wallet: {account!r} is in {wallet.currency}, not {amount.currency}")
        before = Money(wallet.balance, wallet.currency)
        after = before + amount
        reason = None
        if after.amount < 0:
            reason = f"session cost {-amount} exceeded the balance {before}"
            log.warning("payments.wallet_negative account=%s balance=%s reference=%s",
                        account, after, reference)
        wallet.balance, wallet.updated_at = after.amount, self.ctx.clock()
        s.add(PaymentWalletMovementRow(
            account=account, idempotency_key=key, kind=kind, amount=amount.amount,
            balance_after=after.amount, reference=reference, reason=reason,
            created_at=self.ctx.clock()))
        return after

    def _charge(self, reference: str) -> PaymentChargeRow | None:
        with self.ctx.read() as r:
            return r.scalar(select(PaymentChargeRow)
                            .where(PaymentChargeRow.reference == reference))

    def _charge_row(self, account: str, charge: SessionCharge, method: str,
                    status: str) -> PaymentChargeRow:
        now = self.ctx.clock()
        return PaymentChargeRow(
            id=self.ctx.ids("chg"), reference=charge.reference, method=method, account=account,
            operator=charge.operator, currency=charge.gross.currency, net=charge.net.amount,
            vat=charge.vat_json(), gross=charge.gross.amount, refunded=Decimal(0),
            authorization_id=None, provider_capture_ref=None, released=None, status=status,
            ledger_transaction=None, created_at=now, updated_at=now,
        )


def _nothing_due(charge: SessionCharge) -> bool:
    """A session priced at zero after rounding: settled as zero, nothing to book."""
    if not charge.gross.is_zero():
        return False
    log.info("payments.zero_charge reference=%s", charge.reference)
    return True
