"""Pure translations between Stripe's JSON objects and evbill's payment values.

Stripe amounts are integers in the currency's smallest unit, with Stripe's special cases:
ISK is sent with two decimals but must be whole krónur (a multiple of 100), and the
three-decimal currencies (BHD, JOD, KWD, OMR, TND) must end in 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from evbill.money import Money, UnknownCurrency
from evbill.payments.provider import (
    AmountNotRepresentable,
    Authorization,
    AuthorizationState,
    AuthorizationStatus,
    DeclineCode,
    WebhookEvent,
    WebhookEventType,
    WebhookMalformed,
    from_minor_units,
    to_minor_units,
)

__all__ = [
    "authorization_from_intent",
    "decline_code_from",
    "event_from_stripe",
    "money_from_stripe",
    "stripe_amount",
]

_THREE_DECIMAL: Final = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})


def stripe_amount(amount: Money, *, field_name: str = "amount") -> int:
    """Money → the integer Stripe expects, exactly, or `AmountNotRepresentable`."""
    units = to_minor_units(amount, field_name=field_name)
    if amount.currency == "ISK":
        return units * 100  # ISO 0 decimals; Stripe keeps two, always 00
    if amount.currency in _THREE_DECIMAL and units % 10:
        raise AmountNotRepresentable(
            f"{field_name}: Stripe needs {amount.currency} amounts to end in 0, got {amount}"
        )
    return units


def money_from_stripe(units: int, currency: str) -> Money:
    """Stripe's integer amount and lower-case currency → Money, exactly."""
    code = currency.upper()
    if code == "ISK":
        if units % 100:
            raise AmountNotRepresentable(f"amount: {units} is not whole ISK")
        return from_minor_units(units // 100, code)
    return from_minor_units(units, code)


_DECLINE_CODES: Final[dict[str, DeclineCode]] = {
    "insufficient_funds": DeclineCode.INSUFFICIENT_FUNDS,
    "expired_card": DeclineCode.EXPIRED_CARD,
    "incorrect_cvc": DeclineCode.INCORRECT_CVC,
    "processing_error": DeclineCode.PROCESSING_ERROR,
    "authentication_required": DeclineCode.AUTHENTICATION_FAILED,
    "payment_intent_authentication_failure": DeclineCode.AUTHENTICATION_FAILED,
    "card_declined": DeclineCode.CARD_DECLINED,
    "generic_decline": DeclineCode.CARD_DECLINED,
    "do_not_honor": DeclineCode.CARD_DECLINED,
}


def decline_code_from(code: str | None, decline_code: str | None) -> DeclineCode:
    """Stripe's error `code` and `decline_code` → one DeclineCode, the specific one first."""
    for candidate in (decline_code, code):
        if candidate and candidate in _DECLINE_CODES:
            return _DECLINE_CODES[candidate]
    return DeclineCode.GENERIC_DECLINE


def _state(intent: Mapping[str, Any]) -> AuthorizationState:
    status = intent.get("status")
    if status == "requires_capture":
        return AuthorizationState.AUTHORIZED
    if status in {"requires_action", "requires_confirmation"}:
        return AuthorizationState.REQUIRES_ACTION
    if status == "succeeded":
        return AuthorizationState.CAPTURED
    if status == "canceled":
        if intent.get("cancellation_reason") == "automatic":
            return AuthorizationState.EXPIRED
        return AuthorizationState.VOIDED
    return AuthorizationState.DECLINED  # requires_payment_method after a failed attempt


def _card_details(intent: Mapping[str, Any]) -> Mapping[str, Any]:
    charge = intent.get("latest_charge")
    if not isinstance(charge, Mapping):
        return {}
    details = charge.get("payment_method_details") or {}
    card = details.get("card") or details.get("card_present") or {}
    return card if isinstance(card, Mapping) else {}


def _incremental(intent: Mapping[str, Any], card: Mapping[str, Any]) -> bool:
    if card.get("incremental_authorization_supported") is True:  # card_present
        return True
    incremental = card.get("incremental_authorization") or {}
    return bool(incremental.get("status") == "available")


def authorization_from_intent(intent: Mapping[str, Any]) -> Authorization:
    """A PaymentIntent (with `latest_charge` expanded where known) → Authorization."""
    state = _state(intent)
    currency = str(intent["currency"])
    status = {
        AuthorizationState.REQUIRES_ACTION: AuthorizationStatus.REQUIRES_ACTION,
        AuthorizationState.DECLINED: AuthorizationStatus.DECLINED,
    }.get(state, AuthorizationStatus.AUTHORIZED)
    card = _card_details(intent)
    capture_before = card.get("capture_before")
    expires_at = (datetime.fromtimestamp(int(capture_before), UTC)
                  if capture_before is not None else None)
    challenge_url = None
    next_action = intent.get("next_action") or {}
    redirect = next_action.get("redirect_to_url") or {}
    if redirect.get("url"):
        challenge_url = str(redirect["url"])
    decline = None
    error = intent.get("last_payment_error") or {}
    if state is AuthorizationState.DECLINED:
        decline = decline_code_from(error.get("code"), error.get("decline_code"))
    received = int(intent.get("amount_received") or 0)
    return Authorization(
        id=str(intent["id"]), status=status,
        amount=money_from_stripe(int(intent["amount"]), currency), decline_code=decline,
        challenge_ref=str(intent["id"]) if status is AuthorizationStatus.REQUIRES_ACTION
        else None,
        challenge_url=challenge_url, expires_at=expires_at,
        incremental_supported=_incremental(intent, card), state=state,
        captured=money_from_stripe(received, currency) if state is AuthorizationState.CAPTURED
        else None,
    )


# --- webhooks ------------------------------------------------------------------------------


def _event_type(stripe_type: str, obj: Mapping[str, Any]) -> WebhookEventType:
    if stripe_type == "payment_intent.amount_capturable_updated":
        return WebhookEventType.CHALLENGE_SUCCEEDED  # the hold is in place (after 3DS)
    if stripe_type == "payment_intent.payment_failed":
        return WebhookEventType.CHALLENGE_FAILED
    if stripe_type == "payment_intent.canceled":
        if obj.get("cancellation_reason") == "automatic":
            return WebhookEventType.AUTHORIZATION_EXPIRED
        return WebhookEventType.AUTHORIZATION_VOIDED
    if stripe_type == "payment_intent.succeeded":
        return WebhookEventType.CAPTURE_SUCCEEDED
    if stripe_type in {"refund.created", "refund.updated"}:
        if obj.get("status") == "succeeded":
            return WebhookEventType.REFUND_SUCCEEDED
        if obj.get("status") in {"failed", "canceled"}:
            return WebhookEventType.REFUND_FAILED
        return WebhookEventType.OTHER
    if stripe_type == "payout.paid":
        return WebhookEventType.SETTLEMENT_PAID
    return WebhookEventType.OTHER


def _amount(obj: Mapping[str, Any], event_type: WebhookEventType) -> Money | None:
    key = "amount_received" if event_type is WebhookEventType.CAPTURE_SUCCEEDED else "amount"
    if key not in obj or "currency" not in obj:
        return None
    return money_from_stripe(int(obj[key]), str(obj["currency"]))


def _ids(obj: Mapping[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(authorization, capture, refund) ids: PaymentIntent, Charge and Refund ids."""
    object_kind, object_id = obj.get("object"), obj.get("id")
    if object_kind == "payment_intent":
        charge = obj.get("latest_charge")
        charge_id = charge.get("id") if isinstance(charge, Mapping) else charge
        return object_id, charge_id, None
    if object_kind == "refund":
        return obj.get("payment_intent"), obj.get("charge"), object_id
    return None, None, None


def event_from_stripe(event: Mapping[str, Any]) -> WebhookEvent:
    """A verified Stripe Event (as a dict) → WebhookEvent."""
    try:
        obj = event["data"]["object"]
        stripe_type, event_id, created = str(event["type"]), str(event["id"]), event["created"]
        event_type = _event_type(stripe_type, obj)
        amount = _amount(obj, event_type)
    except (KeyError, TypeError, ValueError, UnknownCurrency, AmountNotRepresentable):
        raise WebhookMalformed("body: not a readable Stripe event") from None
    authorization_id, capture_id, refund_id = _ids(obj)
    data = {key: str(obj[key]) for key in ("object", "status", "cancellation_reason")
            if obj.get(key) is not None}
    if event_type is WebhookEventType.SETTLEMENT_PAID:
        data["payout"] = str(obj.get("id"))
    return WebhookEvent(
        id=event_id, type=event_type, created_at=datetime.fromtimestamp(int(created), UTC),
        provider_type=stripe_type, authorization_id=authorization_id, capture_id=capture_id,
        refund_id=refund_id, amount=amount, data=data,
    )
