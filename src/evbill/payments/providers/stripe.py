"""The Stripe provider: PaymentIntents with manual capture, through the official `stripe` SDK.

Holds are PaymentIntents confirmed with `capture_method=manual`; increments use
`increment_authorization`; captures `amount_to_capture` (Stripe releases the rest); voids
cancel the PaymentIntent; refunds refund its charge. The SDK's own network retries are off
(`max_network_retries=0`): `evbill.payments.retry` retries with the same idempotency key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

import stripe

from evbill.clock import utc_now
from evbill.money import Money
from evbill.payments.provider import (
    Authorization,
    AuthorizationExpired,
    AuthorizationNotFound,
    AuthorizationStatus,
    Capture,
    IdempotencyConflict,
    InvalidPaymentRequest,
    PaymentDeclined,
    PaymentError,
    PaymentMethod,
    PaymentMethodKind,
    PaymentMethodNotFound,
    PaymentMethodTaken,
    ProviderTimeout,
    ProviderUnavailable,
    Refund,
    RefundExceedsCaptured,
    WebhookEvent,
    WebhookMalformed,
    WebhookSignatureInvalid,
)
from evbill.payments.providers.stripe_mapping import (
    authorization_from_intent,
    decline_code_from,
    event_from_stripe,
    money_from_stripe,
    stripe_amount,
)
from evbill.payments.reconcile import ProviderRecord, RecordKind
from evbill.payments.webhooks import (
    DEFAULT_TOLERANCE,
    ReplayGuard,
    header_value,
    parse_signature_header,
    verify_timestamp,
)

__all__ = ["SIGNATURE_HEADER", "StripeConfigurationError", "StripeProvider"]

SIGNATURE_HEADER = "Stripe-Signature"
log = logging.getLogger(__name__)

#: The PaymentMethod metadata key naming the evbill customer that claimed it.
_OWNER_KEY = "evbill_customer"

Channel = Literal["card", "card_present"]


class StripeConfigurationError(PaymentError):
    """Stripe refused our credentials or permissions: an operator must fix the setup."""


class StripeProvider:
    """A `PaymentProvider` and `TokenVault` backed by a Stripe account."""

    name = "stripe"

    def __init__(
        self,
        client: stripe.StripeClient,
        *,
        webhook_secret: str,
        clock: Callable[[], datetime] = utc_now,
        webhook_tolerance: timedelta = DEFAULT_TOLERANCE,
        channel: Channel = "card",
    ) -> None:
        self._client = client
        self._webhook_secret = webhook_secret
        self._clock = clock
        self._tolerance = webhook_tolerance
        self._guard = ReplayGuard(webhook_tolerance)
        self.channel: Channel = channel

    @classmethod
    def from_api_key(
        cls,
        api_key: str,
        *,
        webhook_secret: str,
        http_client: stripe.HTTPClient | None = None,
        clock: Callable[[], datetime] = utc_now,
        channel: Channel = "card",
    ) -> StripeProvider:
        client = stripe.StripeClient(api_key, max_network_retries=0, http_client=http_client)
        return cls(client, webhook_secret=webhook_secret, clock=clock, channel=channel)

    # --- the provider interface ----------------------------------------------------------
    def authorize(
        self,
        amount: Money,
        payment_method_token: str,
        idempotency_key: str,
        metadata: Mapping[str, str],
    ) -> Authorization:
        params: dict[str, Any] = {
            "amount": stripe_amount(amount),
            "currency": amount.currency.lower(),
            "payment_method": payment_method_token,
            "payment_method_types": [self.channel],
            "capture_method": "manual",
            "confirm": True,
            "metadata": dict(metadata),
            "payment_method_options": self._incremental_option(),
            "expand": ["latest_charge"],
        }
        with self._translate("authorize"):
            try:
                intent = self._client.v1.payment_intents.create(
                    params=params,  # type: ignore[arg-type]  # built as a plain dict above
                    options={"idempotency_key": idempotency_key},
                )
            except stripe.CardError as exc:
                return self._declined(amount, exc)
        auth = authorization_from_intent(intent.to_dict())
        log.info("stripe.authorize authorization_id=%s status=%s", auth.id, auth.status.value)
        return auth

    def increment(
        self, authorization_id: str, new_amount: Money, idempotency_key: str
    ) -> Authorization:
        with self._translate("increment"):
            intent = self._client.v1.payment_intents.increment_authorization(
                authorization_id,
                params={"amount": stripe_amount(new_amount, field_name="new_amount"),
                        "expand": ["latest_charge"]},
                options={"idempotency_key": idempotency_key},
            )
        return authorization_from_intent(intent.to_dict())

    def capture(self, authorization_id: str, amount: Money, idempotency_key: str) -> Capture:
        with self._translate("capture"):
            intent = self._client.v1.payment_intents.capture(
                authorization_id,
                params={"amount_to_capture": stripe_amount(amount)},
                options={"idempotency_key": idempotency_key},
            )
        data = intent.to_dict()
        charge = data.get("latest_charge")
        charge_id = charge.get("id") if isinstance(charge, Mapping) else charge
        if not isinstance(charge_id, str):
            raise InvalidPaymentRequest(f"capture: PaymentIntent {authorization_id} has no charge")
        currency = str(data["currency"])
        captured = money_from_stripe(int(data["amount_received"]), currency)
        authorized = money_from_stripe(int(data["amount"]), currency)
        log.info("stripe.capture authorization_id=%s capture_id=%s amount=%s",
                 authorization_id, charge_id, captured)
        return Capture(charge_id, authorization_id, captured, authorized - captured)

    def void(self, authorization_id: str, idempotency_key: str) -> Authorization:
        with self._translate("void"):
            intent = self._client.v1.payment_intents.cancel(
                authorization_id,
                params={"cancellation_reason": "abandoned"},
                options={"idempotency_key": idempotency_key},
            )
        return authorization_from_intent(intent.to_dict())

    def refund(self, capture_id: str, amount: Money | None, idempotency_key: str) -> Refund:
        params: dict[str, Any] = {"charge": capture_id}
        if amount is not None:
            params["amount"] = stripe_amount(amount)
        with self._translate("refund"):
            refund = self._client.v1.refunds.create(
                params=params,  # type: ignore[arg-type]  # built as a plain dict above
                options={"idempotency_key": idempotency_key},
            )
        data = refund.to_dict()
        return Refund(str(data["id"]), capture_id,
                      money_from_stripe(int(data["amount"]), str(data["currency"])),
                      str(data.get("status") or "pending"))

    def retrieve(self, authorization_id: str) -> Authorization:
        with self._translate("retrieve"):
            intent = self._client.v1.payment_intents.retrieve(
                authorization_id, params={"expand": ["latest_charge"]}
            )
        return authorization_from_intent(intent.to_dict())

    def payout_amount(self, payout_id: str) -> Money | None:
        """The amount of a paid payout as Stripe's API reports it (None: not paid)."""
        with self._translate("payout"):
            data = self._client.v1.payouts.retrieve(payout_id).to_dict()
        if data.get("status") != "paid":
            return None
        return money_from_stripe(int(data["amount"]), str(data["currency"]))

    def describe(self, token: str) -> PaymentMethod:
        """Brand, last4 and expiry of a Stripe PaymentMethod (never the number)."""
        return _method(token, self._retrieve_method(token))

    def claim(self, token: str, customer: str) -> PaymentMethod:
        """The PaymentMethod's owner is the Stripe customer it is attached to, or the evbill
        customer recorded in its metadata by the first claim: another owner is refused, an
        unowned method is claimed for `customer` (recorded at Stripe)."""
        method = self._retrieve_method(token)
        metadata = method.get("metadata") or {}
        owner = metadata.get(_OWNER_KEY) or method.get("customer")
        if owner and owner != customer:
            raise PaymentMethodTaken(
                "payment_method_token: this payment method belongs to another customer")
        if not owner:
            with self._translate("claim"):
                self._client.v1.payment_methods.update(
                    token, params=cast(Any, {"metadata": {_OWNER_KEY: customer}}))
        return _method(token, method)

    def _retrieve_method(self, token: str) -> dict[str, Any]:
        with self._translate("describe"):
            try:
                method: dict[str, Any] = self._client.v1.payment_methods.retrieve(
                    token).to_dict()
            except stripe.InvalidRequestError as exc:
                if exc.http_status == 404:
                    raise PaymentMethodNotFound(
                        f"payment_method_token: {token!r} is not in the Stripe account"
                    ) from None
                raise
        return method



    def records(self, since: datetime | None = None) -> list[ProviderRecord]:
        """Captured charges and refunds since `since`, listed through the SDK (paginated)."""
        params: dict[str, Any] = {"limit": 100}
        if since is not None:
            params["created"] = {"gte": int(since.timestamp())}
        out: list[ProviderRecord] = []
        with self._translate("list"):
            for charge in self._client.v1.charges.list(params=cast(Any, params)).auto_paging_iter():
                data = charge.to_dict()
                if data.get("captured") and int(data.get("amount_captured") or 0) > 0:
                    out.append(ProviderRecord(
                        RecordKind.CAPTURE, str(data["id"]),
                        money_from_stripe(int(data["amount_captured"]), str(data["currency"])),
                        datetime.fromtimestamp(int(data["created"]), UTC),
                        str(data.get("payment_intent") or "")))
            for refund in self._client.v1.refunds.list(params=cast(Any, params)).auto_paging_iter():
                data = refund.to_dict()
                if data.get("status") in ("succeeded", "pending"):
                    out.append(ProviderRecord(
                        RecordKind.REFUND, str(data["id"]),
                        money_from_stripe(int(data["amount"]), str(data["currency"])),
                        datetime.fromtimestamp(int(data["created"]), UTC)))
        return sorted(out, key=lambda r: r.at)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        """Verify with `stripe.Webhook.construct_event`, then staleness and replay."""
        header = header_value(headers, SIGNATURE_HEADER)
        try:
            # tolerance=0 turns the SDK's own wall-clock check off: ours uses the injected
            # clock, checks both directions and raises a distinct error for stale events.
            event = stripe.Webhook.construct_event(body, header, self._webhook_secret,
                                                   tolerance=0)
        except stripe.SignatureVerificationError as exc:
            raise WebhookSignatureInvalid(f"{SIGNATURE_HEADER}: {exc.user_message}") from None
        except ValueError:
            raise WebhookMalformed("body: not a Stripe event (JSON object)") from None
        assert header is not None  # construct_event refuses a missing header
        timestamp, _ = parse_signature_header(header)
        now = self._clock()
        verify_timestamp(timestamp, now, self._tolerance)
        parsed = event_from_stripe(event.to_dict())
        self._guard.check_and_remember(parsed.id, now)
        return parsed

    # --- plumbing ------------------------------------------------------------------------
    def _incremental_option(self) -> dict[str, Any]:
        if self.channel == "card_present":
            return {"card_present": {"request_incremental_authorization_support": True}}
        return {"card": {"request_incremental_authorization": "if_available"}}

    def _declined(self, amount: Money, exc: stripe.CardError) -> Authorization:
        error = exc.error
        code = decline_code_from(exc.code, error.decline_code if error else None)
        intent = error.payment_intent if error else None
        intent_id = str(intent.id) if intent is not None else f"declined:{exc.request_id}"
        log.info("stripe.authorize.declined authorization_id=%s code=%s", intent_id, code.value)
        return Authorization(intent_id, AuthorizationStatus.DECLINED, amount, decline_code=code)

    @contextmanager
    def _translate(self, operation: str) -> Iterator[None]:
        """Stripe SDK errors → evbill's payment errors (messages carry no card data)."""
        try:
            yield
        except stripe.CardError as exc:
            error = exc.error
            code = decline_code_from(exc.code, error.decline_code if error else None)
            raise PaymentDeclined(code, f"{operation}: {exc.user_message}") from None
        except stripe.IdempotencyError as exc:
            raise IdempotencyConflict(f"idempotency_key: {exc.user_message}") from None
        except stripe.InvalidRequestError as exc:
            raise _invalid_request(operation, exc) from None
        except stripe.APIConnectionError as exc:
            raise ProviderTimeout(f"{operation}: {exc.user_message}") from None
        except (stripe.APIError, stripe.RateLimitError) as exc:
            raise ProviderUnavailable(
                f"{operation}: Stripe answered HTTP {exc.http_status}"
            ) from None
        except (stripe.AuthenticationError, stripe.PermissionError) as exc:
            raise StripeConfigurationError(f"{operation}: {exc.user_message}") from None


def _method(token: str, method: dict[str, Any]) -> PaymentMethod:
    card = method.get("card") or {}
    wallet = card.get("wallet")
    kind = PaymentMethodKind.WALLET if wallet else PaymentMethodKind.CARD
    return PaymentMethod(token, kind, str(card.get("brand", "unknown")),
                         str(card.get("last4", "")), int(card.get("exp_month", 0)),
                         int(card.get("exp_year", 0)))


def _invalid_request(operation: str, exc: stripe.InvalidRequestError) -> PaymentError:
    message = f"{operation}: {exc.user_message} (code={exc.code}, param={exc.param})"
    if exc.code == "resource_missing":
        return AuthorizationNotFound(message)
    if exc.code == "charge_expired_for_capture":
        return AuthorizationExpired(message)
    if operation == "refund" and (exc.code in {"charge_already_refunded", "amount_too_large"}
                                  or exc.param == "amount"):
        return RefundExceedsCaptured(message)
    return InvalidPaymentRequest(message)
