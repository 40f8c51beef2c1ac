"""The payment provider interface: value types, errors and the `PaymentProvider` protocol.

Every provider (the built-in sandbox, Stripe) speaks this interface and nothing else crosses
into the payment flows: no SDK object, no card number. Money is `Money`; a provider converts
to its own minor units exactly, or refuses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol, runtime_checkable

from evbill.money import Money, minor_unit

__all__ = [
    "AmountNotRepresentable",
    "Authorization",
    "AuthorizationExpired",
    "AuthorizationNotFound",
    "AuthorizationState",
    "AuthorizationStatus",
    "Capture",
    "ChallengeNotFound",
    "DeclineCode",
    "IdempotencyConflict",
    "InvalidCardData",
    "InvalidPaymentRequest",
    "PaymentDeclined",
    "PaymentError",
    "PaymentMethod",
    "PaymentMethodKind",
    "PaymentMethodNotFound",
    "PaymentMethodTaken",
    "PaymentProvider",
    "ProviderError",
    "ProviderTimeout",
    "ProviderUnavailable",
    "Refund",
    "RefundExceedsCaptured",
    "TokenVault",
    "WebhookEvent",
    "WebhookEventType",
    "WebhookMalformed",
    "WebhookReplayed",
    "WebhookSignatureInvalid",
    "WebhookStale",
    "WebhookVerificationError",
    "from_minor_units",
    "to_minor_units",
]


# --- statuses and codes ------------------------------------------------------------------


class AuthorizationStatus(StrEnum):
    """The answer to `authorize`: a hold exists, the issuer wants 3-D Secure, or no."""

    AUTHORIZED = "authorized"
    REQUIRES_ACTION = "requires_action"  # 3-D Secure challenge pending
    DECLINED = "declined"


class AuthorizationState(StrEnum):
    """Where an authorization is in its life at the provider (`retrieve`)."""

    REQUIRES_ACTION = "requires_action"
    AUTHORIZED = "authorized"  # hold in place, capturable
    CAPTURED = "captured"
    VOIDED = "voided"
    EXPIRED = "expired"
    DECLINED = "declined"


class DeclineCode(StrEnum):
    """Why an issuer (or 3-D Secure) said no. Stripe's decline codes where they exist."""

    CARD_DECLINED = "card_declined"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    EXPIRED_CARD = "expired_card"
    INCORRECT_CVC = "incorrect_cvc"
    PROCESSING_ERROR = "processing_error"
    AUTHENTICATION_FAILED = "authentication_failed"
    GENERIC_DECLINE = "generic_decline"


class PaymentMethodKind(StrEnum):
    CARD = "card"
    WALLET = "wallet"  # Apple Pay / Google Pay device token


class WebhookEventType(StrEnum):
    """Provider events the payment flows react to, in evbill's words."""

    AUTHORIZATION_EXPIRED = "authorization.expired"
    CHALLENGE_SUCCEEDED = "authorization.challenge_succeeded"
    CHALLENGE_FAILED = "authorization.challenge_failed"
    AUTHORIZATION_VOIDED = "authorization.voided"
    CAPTURE_SUCCEEDED = "capture.succeeded"
    REFUND_SUCCEEDED = "refund.succeeded"
    REFUND_FAILED = "refund.failed"
    SETTLEMENT_PAID = "settlement.paid"
    OTHER = "other"  # an event type we receive but do not act on


# --- values ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PaymentMethod:
    """A vaulted payment method as evbill may store it: a token and display data only."""

    token: str
    kind: PaymentMethodKind
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True, slots=True)
class Authorization:
    """A hold on the driver's funds (or why there is none)."""

    id: str
    status: AuthorizationStatus
    amount: Money  # the amount held (requested, while a challenge is pending)
    decline_code: DeclineCode | None = None
    challenge_ref: str | None = None  # set when status is requires_action
    challenge_url: str | None = None  # where the driver completes 3-D Secure, if known
    expires_at: datetime | None = None
    incremental_supported: bool = False
    state: AuthorizationState | None = None  # set by `retrieve`
    captured: Money | None = None  # set by `retrieve` once captured

    @property
    def is_authorized(self) -> bool:
        return self.status is AuthorizationStatus.AUTHORIZED


@dataclass(frozen=True, slots=True)
class Capture:
    """Funds taken from a hold; whatever was held beyond `amount` is released."""

    id: str
    authorization_id: str
    amount: Money
    released: Money


@dataclass(frozen=True, slots=True)
class Refund:
    id: str
    capture_id: str
    amount: Money
    status: str = "succeeded"  # succeeded | pending | failed


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """A verified provider event, translated: ids refer to evbill's provider-side ids."""

    id: str
    type: WebhookEventType
    created_at: datetime
    provider_type: str  # the provider's own event name, for the audit trail
    authorization_id: str | None = None
    capture_id: str | None = None
    refund_id: str | None = None
    amount: Money | None = None
    data: Mapping[str, str] = field(default_factory=dict)


# --- errors ------------------------------------------------------------------------------


class PaymentError(Exception):
    """Base class of every payments error."""


class ProviderError(PaymentError):
    """The provider could not be reached or failed; the operation may be retried."""

    retryable = True


class ProviderTimeout(ProviderError):
    """No answer in time; the provider may or may not have executed the request."""


class ProviderUnavailable(ProviderError):
    """The provider answered with a server error (HTTP 5xx) or asked us to slow down."""


class PaymentDeclined(PaymentError):
    """The issuer refused (an increment, a charge). Never retried automatically."""

    def __init__(self, code: DeclineCode, message: str) -> None:
        super().__init__(f"payment declined ({code.value}): {message}")
        self.code = code


class InvalidPaymentRequest(PaymentError):
    """A request the provider refuses on its merits (wrong amount, wrong state)."""


class AuthorizationNotFound(InvalidPaymentRequest):
    pass


class AuthorizationExpired(InvalidPaymentRequest):
    pass


class RefundExceedsCaptured(InvalidPaymentRequest):
    pass


class ChallengeNotFound(InvalidPaymentRequest):
    pass


class PaymentMethodNotFound(InvalidPaymentRequest):
    pass


class PaymentMethodTaken(InvalidPaymentRequest):
    """The payment method belongs to another customer at the provider: it is never moved."""


class IdempotencyConflict(InvalidPaymentRequest):
    """An idempotency key was reused with different parameters."""


class InvalidCardData(PaymentError):
    """Card details failed validation. The message names the field, never its value."""


class AmountNotRepresentable(PaymentError):
    """An amount has more decimals than the currency's minor unit (no silent rounding)."""


class WebhookVerificationError(PaymentError):
    """A webhook that must not be processed."""


class WebhookSignatureInvalid(WebhookVerificationError):
    """Missing, malformed or wrong signature: forged or tampered with."""


class WebhookStale(WebhookVerificationError):
    """The signed timestamp is outside the tolerance window (a delayed replay)."""


class WebhookReplayed(WebhookVerificationError):
    """An event id that was already accepted once."""


class WebhookMalformed(WebhookVerificationError):
    """Correctly signed, but the body is not an event we can read."""


# --- exact amount conversion ---------------------------------------------------------------


def to_minor_units(amount: Money, *, field_name: str = "amount") -> int:
    """Money → integer minor units (12.34 EUR → 1234). Refuses amounts that would round."""
    places = minor_unit(amount.currency)
    scaled = amount.amount.scaleb(places)
    if scaled != scaled.to_integral_value():
        raise AmountNotRepresentable(
            f"{field_name}: {amount.amount} {amount.currency} has more than {places} decimals"
        )
    return int(scaled)


def from_minor_units(units: int, currency: str) -> Money:
    """Integer minor units → Money (1234 EUR → 12.34 EUR), exact."""
    return Money(Decimal(units).scaleb(-minor_unit(currency)), currency)


# --- the interface -----------------------------------------------------------------------


@runtime_checkable
class PaymentProvider(Protocol):
    """What the payment flows call. Every money-moving call takes an idempotency key:
    the same key with the same parameters returns the first result and moves no money
    twice; the same key with other parameters raises `IdempotencyConflict`."""

    name: str

    def authorize(
        self,
        amount: Money,
        payment_method_token: str,
        idempotency_key: str,
        metadata: Mapping[str, str],
    ) -> Authorization: ...

    def increment(
        self, authorization_id: str, new_amount: Money, idempotency_key: str
    ) -> Authorization: ...

    def capture(self, authorization_id: str, amount: Money, idempotency_key: str) -> Capture: ...

    def void(self, authorization_id: str, idempotency_key: str) -> Authorization: ...

    def refund(self, capture_id: str, amount: Money | None, idempotency_key: str) -> Refund: ...

    def retrieve(self, authorization_id: str) -> Authorization: ...

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent: ...


@runtime_checkable
class TokenVault(Protocol):
    """Payment method look-up: token → brand, last4, expiry (what evbill may keep), and who
owns it at the provider (a method belongs to the customer who first attached it)."""

    def describe(self, token: str) -> PaymentMethod: ...

    def claim(self, token: str, customer: str) -> PaymentMethod:
        """Attach the method to `customer` at the provider, or confirm it is theirs already;
        raises `PaymentMethodTaken` when another customer owns it."""
        ...
