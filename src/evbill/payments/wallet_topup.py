"""A driver's payment methods and prepaid wallet top-ups, through the payment service (which
keeps provider tokens and display data only, and books every movement in the ledger)."""

from __future__ import annotations

import logging

from evbill.money import Money
from evbill.payments.app_context import PaymentsApp
from evbill.payments.model import WalletTopupDeclined
from evbill.payments.modes import bind_wallet_cards
from evbill.payments.provider import (
    PaymentError,
    PaymentMethod,
    PaymentMethodNotFound,
    PaymentMethodTaken,
)
from evbill.payments.refusals import Invalid, NotFoundHere, PaymentRefused, StateConflict

__all__ = ["WalletService"]

log = logging.getLogger(__name__)

MAX_TOP_UP = Money.of("500.00", "EUR")


class WalletService:
    def __init__(self, ctx: PaymentsApp) -> None:
        self._ctx = ctx

    def methods(self, account: str) -> list[PaymentMethod]:
        return self._ctx.payments.payment_methods(account)

    def add_method(self, account: str, token: str) -> PaymentMethod:
        try:
            return self._ctx.payments.add_payment_method(account, token)
        except PaymentMethodNotFound:
            raise Invalid("token: the provider does not know this payment method") from None
        except PaymentMethodTaken:
            raise StateConflict("token: this payment method belongs to another customer; "
                                "add your own card") from None

    def method(self, account: str, token: str) -> PaymentMethod:
        for method in self.methods(account):
            if method.token == token:
                return method
        raise NotFoundHere(f"payment_method_id: no payment method {token!r}")

    def balance(self, account: str) -> Money:
        return self._ctx.payments.wallet_balance(account)

    def top_up(self, account: str, amount: Money, method_token: str, key: str) -> Money:
        """Charge a saved method and credit the wallet once per idempotency key."""
        if amount.amount <= 0 or amount.amount > MAX_TOP_UP.amount:
            raise Invalid(f"amount: a top-up must be more than 0 and at most "
                             f"{MAX_TOP_UP.amount}")  # fmt: skip
        method = self.method(account, method_token)
        try:
            balance = self._ctx.payments.top_up(account, amount, method.token,
                                                f"topup:{account}:{key}")  # fmt: skip
        except WalletTopupDeclined as exc:
            code = exc.code.value if exc.code else "declined"
            raise PaymentRefused(f"payment_method_id: the top-up was declined ({code})") from None
        except PaymentError as exc:
            raise PaymentRefused(f"payment_method_id: {exc}") from None
        log.info("wallet.top_up account=%s amount=%s", account, amount)
        bind_wallet_cards(self._ctx, account)  # a wallet payer now: the station checks too
        return balance
