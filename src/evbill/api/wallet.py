"""A driver's payment methods (provider tokens and display data only) and prepaid wallet.

A top-up authorizes and captures on the provider and then credits the wallet once per
idempotency key: a retried request returns the first entry and charges nothing twice.
"""

from __future__ import annotations

import logging
import secrets
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from evbill.api.context import ApiContext
from evbill.api.problems import BadRequest, NotFound, PaymentRequired
from evbill.api.tables import PaymentMethodRow, WalletEntryRow
from evbill.money import Money
from evbill.payments.provider import PaymentError, PaymentMethodNotFound

__all__ = ["WalletService"]

log = logging.getLogger(__name__)


class WalletService:
    def __init__(self, ctx: ApiContext) -> None:
        self._ctx = ctx

    # --- payment methods ----------------------------------------------------------------
    def methods(self, user_id: str) -> list[PaymentMethodRow]:
        with self._ctx.db.read_sessions() as s:
            stmt = select(PaymentMethodRow).where(PaymentMethodRow.user_id == user_id,
                                                  PaymentMethodRow.removed_at.is_(None))
            return list(s.scalars(stmt.order_by(PaymentMethodRow.created_at)))

    def add_method(self, user_id: str, token: str) -> PaymentMethodRow:
        try:
            card = self._ctx.provider.describe(token)
        except PaymentMethodNotFound:
            raise BadRequest("token: the provider does not know this payment method") from None
        row = PaymentMethodRow(
            id="pm_" + secrets.token_hex(8), user_id=user_id, provider=self._ctx.provider.name,
            token=card.token, kind=card.kind.value, brand=card.brand, last4=card.last4,
            exp_month=card.exp_month, exp_year=card.exp_year, created_at=self._ctx.clock(),
        )  # fmt: skip
        with self._ctx.db.sessions() as s, s.begin():
            s.add(row)
        log.info("payment_method.added user_id=%s method_id=%s brand=%s", user_id, row.id,
                 row.brand)  # fmt: skip
        return row

    def method(self, user_id: str, method_id: str) -> PaymentMethodRow:
        with self._ctx.db.read_sessions() as s:
            row = s.get(PaymentMethodRow, method_id)
        if row is None or row.user_id != user_id or row.removed_at is not None:
            raise NotFound(f"method_id: no payment method {method_id!r}")
        return row

    def remove_method(self, user_id: str, method_id: str) -> None:
        with self._ctx.db.sessions() as s, s.begin():
            row = s.get(PaymentMethodRow, method_id)
            if row is None or row.user_id != user_id:
                raise NotFound(f"method_id: no payment method {method_id!r}")
            row.removed_at = row.removed_at or self._ctx.clock()

    # --- wallet -------------------------------------------------------------------------
    def balance(self, user_id: str, currency: str = "EUR") -> tuple[Money, list[WalletEntryRow]]:
        with self._ctx.db.read_sessions() as s:
            total = s.scalars(select(func.coalesce(func.sum(WalletEntryRow.amount), 0)).where(
                WalletEntryRow.user_id == user_id, WalletEntryRow.currency == currency)).one()
            entries = list(s.scalars(select(WalletEntryRow).where(
                WalletEntryRow.user_id == user_id).order_by(WalletEntryRow.id.desc()).limit(50)))
        # SQLite sums decimal text as float: add the exact values instead.
        exact = sum((e.amount for e in entries if e.currency == currency), Decimal(0))
        if len(entries) < 50:
            total = exact
        return Money(Decimal(str(total)), currency), entries

    def top_up(self, user_id: str, amount: Money, method_id: str, key: str) -> WalletEntryRow:
        if amount.amount <= 0 or amount.amount > 500:
            raise BadRequest("amount: a top-up must be more than 0 and at most 500")
        reference = f"topup:{user_id}:{key}"
        with self._ctx.db.read_sessions() as s:
            done = s.scalars(select(WalletEntryRow).where(
                WalletEntryRow.reference == reference)).first()
        if done is not None:
            return done
        method = self.method(user_id, method_id)
        provider = self._ctx.provider
        try:
            auth = provider.authorize(amount, method.token, f"{reference}:auth",
                                      {"purpose": "wallet_top_up", "user": user_id})
            if not auth.is_authorized:
                code = auth.decline_code.value if auth.decline_code else auth.status.value
                raise PaymentRequired(f"payment_method_id: the top-up was declined ({code})")
            provider.capture(auth.id, amount, f"{reference}:capture")
        except PaymentError as exc:
            raise PaymentRequired(f"payment_method_id: {exc}") from None
        row = WalletEntryRow(user_id=user_id, amount=amount.amount, currency=amount.currency,
                             kind="top_up", reference=reference, created_at=self._ctx.clock())
        try:
            with self._ctx.db.sessions() as s, s.begin():
                s.add(row)
        except IntegrityError:  # a concurrent twin credited first
            with self._ctx.db.read_sessions() as s:
                return s.scalars(select(WalletEntryRow).where(
                    WalletEntryRow.reference == reference)).one()
        log.info("wallet.top_up user_id=%s amount=%s", user_id, amount)
        return row
