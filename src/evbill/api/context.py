"""What every request handler needs, built once per app: database, keys, the payment,
ledger and invoicing services, and the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from fastapi import Request
from itsdangerous import URLSafeTimedSerializer

from evbill.accounts.credentials import ClaimCodes
from evbill.accounts.crypto import FieldCipher, Passwords
from evbill.api.live import TariffMemo
from evbill.api.ratelimit import LoginLimiter, TtlCache
from evbill.api.settings import ApiSettings
from evbill.clock import utc_now
from evbill.config import Settings
from evbill.invoicing.auto import DocumentIssuer
from evbill.invoicing.service import InvoicingService
from evbill.invoicing.settings import InvoicingSettings
from evbill.ledger.service import LedgerService
from evbill.ledger.store import sql_unit_of_work
from evbill.payments.model import PaymentSettings
from evbill.payments.provider import PaymentMethod, PaymentProvider
from evbill.payments.service import PaymentService
from evbill.store.database import Database
from evbill.store.outbox import StationCommandOutbox

__all__ = ["ApiContext", "CardProvider", "context_of", "utc_now"]


class CardProvider(PaymentProvider, Protocol):
    """A provider that can also describe a payment method token (brand, last4, expiry)."""

    def describe(self, token: str) -> PaymentMethod: ...


@dataclass
class ApiContext:
    db: Database
    settings: Settings
    api: ApiSettings
    provider: CardProvider
    clock: Callable[[], datetime] = utc_now
    payment_settings: PaymentSettings | None = None
    invoicing_settings: InvoicingSettings | None = None
    ledger: LedgerService = field(init=False)
    payments: PaymentService = field(init=False)
    invoicing: InvoicingService = field(init=False)
    passwords: Passwords = field(init=False)
    cipher: FieldCipher = field(init=False)
    claim_codes: ClaimCodes = field(init=False)
    tokens: URLSafeTimedSerializer = field(init=False)
    cookies: URLSafeTimedSerializer = field(init=False)
    limiter: LoginLimiter = field(init=False)
    users: TtlCache[tuple[Any, str | None, str]] = field(init=False)
    verified_tokens: TtlCache[tuple[str, Any, float]] = field(init=False)  # user, session, exp
    cards: TtlCache[tuple[str, ...]] = field(init=False)
    live_tariffs: TariffMemo = field(init=False)
    outbox: StationCommandOutbox = field(init=False)

    def __post_init__(self) -> None:
        if self.api.secret_key is None or self.api.field_key is None:
            raise ValueError("secret_key/field_key: resolve the API secrets before building")
        secret = self.api.secret_key.get_secret_value()
        self.passwords = Passwords(time_cost=self.api.argon2_time_cost,
                                   memory_kib=self.api.argon2_memory_kib)  # fmt: skip
        self.cipher = FieldCipher(self.api.field_key.get_secret_value())
        self.claim_codes = ClaimCodes(secret)
        self.tokens = URLSafeTimedSerializer(secret, salt="evbill.api.token")
        self.cookies = URLSafeTimedSerializer(secret, salt="evbill.portal.session")
        self.limiter = LoginLimiter(self.db, self.api.login_attempts, self.api.login_window_s,
                                    pepper=self.secret)  # fmt: skip
        self.users = TtlCache(self.api.user_cache_s)
        self.verified_tokens = TtlCache(self.api.token_cache_s)
        self.cards = TtlCache(self.api.user_cache_s)  # a driver account's card values
        self.live_tariffs = TariffMemo()
        self.outbox = StationCommandOutbox(self.db)
        self.ledger = LedgerService(sql_unit_of_work(self.db))
        self.invoicing = InvoicingService(self.db, self.invoicing_settings)
        # Receipts and credit notes are issued the moment a payment or refund is booked.
        self.payments = PaymentService(self.db, self.provider, self.ledger,
                                       settings=self.payment_settings, clock=self.clock,
                                       listeners=[DocumentIssuer(self.invoicing, self.clock)])

    @property
    def secret(self) -> bytes:
        assert self.api.secret_key is not None
        return self.api.secret_key.get_secret_value().encode("utf-8")


def context_of(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.evbill
    return ctx
