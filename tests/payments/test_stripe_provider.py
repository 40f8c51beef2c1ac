"""The Stripe provider against the real SDK, its HTTP layer serving recorded responses.

Each test asserts the exact form parameters and Idempotency-Key header the SDK sent.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from evbill.money import Money
from evbill.payments.provider import (
    AmountNotRepresentable,
    AuthorizationExpired,
    AuthorizationNotFound,
    AuthorizationState,
    AuthorizationStatus,
    DeclineCode,
    IdempotencyConflict,
    InvalidPaymentRequest,
    PaymentDeclined,
    PaymentMethodKind,
    ProviderTimeout,
    ProviderUnavailable,
    RefundExceedsCaptured,
)
from evbill.payments.providers.stripe import StripeProvider
from evbill.payments.retry import RetryingProvider, RetryPolicy

from .stripe_recorder import RecordingHTTPClient

EUR50 = Money.of("50.00", "EUR")
META = {"session_id": "sess-42", "station_id": "CP-0001"}
VISA = "pm_card_visa"  # Stripe's test-mode PaymentMethods, valid in a real test account
HOLD_FORM = {
    "amount": "5000", "currency": "eur", "payment_method": VISA,
    "payment_method_types[0]": "card", "capture_method": "manual", "confirm": "true",
    "metadata[session_id]": "sess-42", "metadata[station_id]": "CP-0001",
    "payment_method_options[card][request_incremental_authorization]": "if_available",
    "expand[0]": "latest_charge",
}


def held(provider: StripeProvider, http: RecordingHTTPClient) -> str:
    http.serve("pi_requires_capture")
    auth = provider.authorize(EUR50, VISA, "sess-42/hold", META)
    assert auth.status is AuthorizationStatus.AUTHORIZED
    return auth.id


def test_authorize_sends_a_manual_capture_payment_intent(
    stripe_provider: StripeProvider, stripe_http: RecordingHTTPClient
) -> None:
    stripe_http.serve("pi_requires_capture")
    auth = stripe_provider.authorize(EUR50, VISA, "sess-42/hold", META)
    [request] = stripe_http.requests
    assert (request.method, request.path) == ("post", "/v1/payment_intents")
    assert request.params == HOLD_FORM and len(request.form) == len(HOLD_FORM)
    assert request.idempotency_key == "sess-42/hold"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.headers["Authorization"].startswith("Bearer sk_test_")
    assert "Stripe-Version" in request.headers
    assert auth.status is AuthorizationStatus.AUTHORIZED and auth.amount == EUR50
    assert auth.state is AuthorizationState.AUTHORIZED and auth.incremental_supported
    assert auth.expires_at is not None and auth.expires_at > datetime(2026, 3, 2, tzinfo=UTC)


def test_card_present_channel_requests_incremental_support(
    stripe_provider: StripeProvider, stripe_http: RecordingHTTPClient
) -> None:
    stripe_provider.channel = "card_present"
    stripe_http.serve("pi_requires_capture")
    stripe_provider.authorize(EUR50, "pm_card_present", "k", {})
    params = stripe_http.requests[0].params
    assert params["payment_method_types[0]"] == "card_present"
    assert params["payment_method_options[card_present][request_incremental_authorization_support]"
                  ] == "true"


@pytest.mark.parametrize(
    ("fixture", "token", "code"),
    [("error_card_declined", "pm_card_chargeDeclined", DeclineCode.CARD_DECLINED),
     ("error_insufficient_funds", "pm_card_chargeDeclinedInsufficientFunds",
      DeclineCode.INSUFFICIENT_FUNDS),
     ("error_expired_card", "pm_card_chargeDeclinedExpiredCard", DeclineCode.EXPIRED_CARD)],
)
def test_declines_come_back_as_declined_authorizations(
    stripe_provider: StripeProvider, stripe_http: RecordingHTTPClient, fixture: str, token: str,
    code: DeclineCode,
) -> None:
    stripe_http.serve(fixture, status=402)
    auth = stripe_provider.authorize(EUR50, token, "k-decline", META)
    assert auth.status is AuthorizationStatus.DECLINED and auth.decline_code is code
    assert auth.id.startswith("pi_") and auth.amount == EUR50
    assert len(stripe_http.requests) == 1  # a decline is an answer, not retried by the SDK


def test_3ds_requires_action_then_authorized(
    stripe_provider: StripeProvider, stripe_http: RecordingHTTPClient
) -> None:
    stripe_http.serve("pi_requires_action")
    auth = stripe_provider.authorize(EUR50, "pm_card_authenticationRequired", "k-3ds", META)
    assert auth.status is AuthorizationStatus.REQUIRES_ACTION
    assert auth.challenge_ref == auth.id
    assert auth.challenge_url is not None and auth.challenge_url.startswith("https://")
    stripe_http.serve("pi_challenge_passed")
    after = stripe_provider.retrieve(auth.id)
    request = stripe_http.requests[-1]
    assert (request.method, request.path) == ("get", f"/v1/payment_intents/{auth.id}")
    assert request.query == {"expand[0]": "latest_charge"} and request.idempotency_key is None
    assert after.status is AuthorizationStatus.AUTHORIZED


def test_increment_authorization(
    stripe_provider: StripeProvider, stripe_http: RecordingHTTPClient
) -> None:
    auth_id = held(stripe_provider, stripe_http)
    stripe_http.serve("pi_incremented")
    bigger = stripe_provider.increment(auth_id, Money.of("80", "EUR"), "sess-42/increment/1")
    request = stripe_http.requests[-1]
    assert request.path == f"/v1/payment_intents/{auth_id}/increment_authorization"
    assert request.params == {"amount": "8000", "expand[0]": "latest_charge"}
    assert request.idempotency_key == "sess-42/increment/1"
    assert bigger.amount == Money.of("80.00", "EUR")


def test_increment_declined_raises(
    stripe_provider: StripeProvider, stripe_http: RecordingHTTPClient
) -> None:
    auth_id = held(stripe_provider, stripe_http)
    stripe_http.serve("error_increment_declined", status=402)
    with pytest.raises(PaymentDeclined) as info:
        stripe_provider.increment(auth_id, Money.of("80", "EUR"), "k-inc")
    assert info.value.code is DeclineCode.INSUFFICIENT_FUNDS


def test_partial_capture_releases_the_rest(
    stripe_provider: StripeProvider, stripe_http: RecordingHTTPClient
) -> None:
    auth_id = held(stripe_provider, stripe_http)
    stripe_http.serve("pi_captured_partial")
    capture = stripe_provider.capture(auth_id, Money.of("23.47", "EUR"), "sess-42/capture")
    request = stripe_http.requests[-1]
    assert request.path == f"/v1/payment_intents/{auth_id}/capture"
    assert request.params == {"amount_to_capture": "2347"}
    assert request.idempotency_key == "sess-42/capture"
    assert capture.id.startswith("ch_") and capture.authorization_id == auth_id
    assert capture.amount == Money.of("23.47", "EUR")
    assert capture.released == Money.of("26.53", "EUR")


@pytest.mark.parametrize(
    ("fixture", "status", "error", "message"),
    [("error_capture_too_large", 400, InvalidPaymentRequest, "amount_to_capture"),
     ("error_capture_expired", 400, AuthorizationExpired, "charge_expired_for_capture"),
     ("error_resource_missing", 404, AuthorizationNotFound, "resource_missing"),
     ("error_idempotency", 400, IdempotencyConflict, "idempotency_key"),
     ("error_api_500", 500, ProviderUnavailable, "HTTP 500")],
)
def test_capture_errors_are_translated(
    stripe_provider: StripeProvider, stripe_http: RecordingHTTPClient, fixture: str,
    status: int, error: type[Exception], message: str,
) -> None:
    stripe_http.serve(fixture, status=status)
    with pytest.raises(error, match=message):
        stripe_provider.capture("pi_3QevbillHold00000000001", EUR50, "k-cap")


def test_void_cancels_the_payment_intent(
    stripe_provider: StripeProvider, stripe_http: RecordingHTTPClient
) -> None:
    auth_id = held(stripe_provider, stripe_http)
    stripe_http.serve("pi_canceled")
    voided = stripe_provider.void(auth_id, "sess-42/void")
    request = stripe_http.requests[-1]
    assert request.path == f"/v1/payment_intents/{auth_id}/cancel"
    assert request.params == {"cancellation_reason": "abandoned"}
    assert request.idempotency_key == "sess-42/void"
    assert voided.state is AuthorizationState.VOIDED


def test_an_automatically_canceled_intent_is_an_expired_hold(
    stripe_provider: StripeProvider, stripe_http: RecordingHTTPClient
) -> None:
    stripe_http.serve("pi_canceled_expired")
    assert stripe_provider.retrieve("pi_3QevbillHold00000000001").state is (
        AuthorizationState.EXPIRED)


def test_refunds_partial_and_rest(
    stripe_provider: StripeProvider, stripe_http: RecordingHTTPClient
) -> None:
    capture_id = "ch_3QevbillHold00000000001"
    stripe_http.serve("refund_partial").serve("refund_rest")
    first = stripe_provider.refund(capture_id, Money.of("10", "EUR"), "sess-42/refund/1")
    rest = stripe_provider.refund(capture_id, None, "sess-42/refund/2")
    one, two = stripe_http.requests
    assert (one.method, one.path) == ("post", "/v1/refunds")
    assert one.params == {"charge": capture_id, "amount": "1000"}
    assert two.params == {"charge": capture_id}
    assert [one.idempotency_key, two.idempotency_key] == ["sess-42/refund/1", "sess-42/refund/2"]
    assert first.amount == Money.of("10.00", "EUR") and first.status == "succeeded"
    assert rest.amount == Money.of("13.47", "EUR") and rest.capture_id == capture_id


def test_refund_beyond_the_captured_amount_is_refused(
    stripe_provider: StripeProvider, stripe_http: RecordingHTTPClient
) -> None:
    stripe_http.serve("error_refund_too_large", status=400)
    with pytest.raises(RefundExceedsCaptured, match="param=amount"):
        stripe_provider.refund("ch_3QevbillHold00000000001", Money.of("23.48", "EUR"), "k")


def test_sdk_does_not_retry_on_its_own(
    stripe_provider: StripeProvider, stripe_http: RecordingHTTPClient
) -> None:
    stripe_http.timeout(after_execution=False)
    with pytest.raises(ProviderTimeout):
        stripe_provider.authorize(EUR50, VISA, "k", META)
    stripe_http.unavailable()
    with pytest.raises(ProviderUnavailable):
        stripe_provider.authorize(EUR50, VISA, "k", META)
    assert len(stripe_http.requests) == 2


def test_timeout_then_retry_resends_the_same_request_and_key(
    stripe_provider: StripeProvider, stripe_http: RecordingHTTPClient
) -> None:
    slept: list[float] = []
    provider = RetryingProvider(stripe_provider, RetryPolicy(), sleep=slept.append)
    stripe_http.timeout(after_execution=True, fixture="pi_requires_capture")
    stripe_http.unavailable()
    stripe_http.serve("pi_requires_capture")  # Stripe replays the stored result for the key
    auth = provider.authorize(EUR50, VISA, "sess-42/hold", META)
    assert auth.status is AuthorizationStatus.AUTHORIZED and len(slept) == 2
    first, second, third = stripe_http.requests
    assert first.form == second.form == third.form
    assert {r.idempotency_key for r in stripe_http.requests} == {"sess-42/hold"}


def test_describe_payment_method(
    stripe_provider: StripeProvider, stripe_http: RecordingHTTPClient
) -> None:
    stripe_http.serve("payment_method_card").serve("payment_method_apple_pay")
    card = stripe_provider.describe(VISA)
    wallet = stripe_provider.describe("pm_1QevbillApplePay0000001")
    assert stripe_http.requests[0].path == f"/v1/payment_methods/{VISA}"
    assert (card.brand, card.last4, card.exp_month, card.exp_year, card.kind) == (
        "visa", "4242", 12, 2030, PaymentMethodKind.CARD)
    assert wallet.kind is PaymentMethodKind.WALLET and wallet.last4 == "4444"


@pytest.mark.parametrize(
    ("amount", "currency", "sent"),
    [("1500", "JPY", "1500"), ("4000", "ISK", "400000"), ("1.230", "KWD", "1230"),
     ("0.50", "EUR", "50")],
)
def test_amounts_are_sent_in_stripe_minor_units(
    stripe_provider: StripeProvider, stripe_http: RecordingHTTPClient, amount: str,
    currency: str, sent: str,
) -> None:
    stripe_http.serve("pi_requires_capture")
    stripe_provider.authorize(Money.of(amount, currency), VISA, "k", {})
    assert stripe_http.requests[0].params["amount"] == sent
    assert stripe_http.requests[0].params["currency"] == currency.lower()


@pytest.mark.parametrize(("amount", "currency"), [("1.234", "KWD"), ("12.345", "EUR"),
                                                  ("10.5", "ISK")])
def test_unrepresentable_amounts_never_reach_stripe(
    stripe_provider: StripeProvider, stripe_http: RecordingHTTPClient, amount: str,
    currency: str,
) -> None:
    with pytest.raises(AmountNotRepresentable, match="amount"):
        stripe_provider.authorize(Money.of(amount, currency), VISA, "k", {})
    assert stripe_http.requests == []
