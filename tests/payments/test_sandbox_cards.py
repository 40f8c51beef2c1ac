"""The sandbox as a card processor: test cards, 3-D Secure, holds, captures, voids, refunds."""

from __future__ import annotations

from datetime import timedelta

import pytest

from evbill.money import Money
from evbill.payments.provider import (
    AuthorizationExpired,
    AuthorizationNotFound,
    AuthorizationState,
    AuthorizationStatus,
    ChallengeNotFound,
    DeclineCode,
    InvalidCardData,
    InvalidPaymentRequest,
    PaymentDeclined,
    PaymentMethodKind,
    PaymentMethodNotFound,
    RefundExceedsCaptured,
)
from evbill.payments.providers import sandbox_vault as cards
from evbill.payments.providers.sandbox import SandboxProvider

from .clock import FakeClock

EUR50 = Money.of("50.00", "EUR")


def token(sandbox: SandboxProvider, pan: str) -> str:
    return sandbox.tokenize(pan, 12, 2030, "123").token


def hold(sandbox: SandboxProvider, pan: str = cards.CARD_SUCCESS, key: str = "k-auth") -> str:
    auth = sandbox.authorize(EUR50, token(sandbox, pan), key, {"session": "s1"})
    assert auth.status is AuthorizationStatus.AUTHORIZED
    return auth.id


# --- vault --------------------------------------------------------------------------------


def test_tokenize_returns_display_data_only(sandbox: SandboxProvider) -> None:
    method = sandbox.tokenize("4242 4242 4242 4242", 12, 2030, "123")
    assert (method.brand, method.last4, method.exp_month, method.exp_year) == (
        "visa", "4242", 12, 2030)
    assert method.kind is PaymentMethodKind.CARD
    assert "4242424242424242" not in repr(method) and "4242424242424242" not in method.token
    assert sandbox.describe(method.token) == method
    assert sandbox.tokenize(cards.CARD_MASTERCARD, 1, 2031, "999").brand == "mastercard"
    assert sandbox.tokenize("378282246310005", 1, 2031, "1234").brand == "amex"


@pytest.mark.parametrize(
    ("pan", "month", "year", "cvc", "field"),
    [("4242424242424241", 12, 2030, "123", "card_number: fails the Luhn"),
     ("4242", 12, 2030, "123", "card_number: must be 12 to 19"),
     ("4242abcd42424242", 12, 2030, "123", "card_number"),
     (cards.CARD_SUCCESS, 13, 2030, "123", "exp_month: must be 1 to 12"),
     (cards.CARD_SUCCESS, 12, 30, "123", "exp_year"),
     (cards.CARD_SUCCESS, 2, 2026, "123", "the card has expired"),
     (cards.CARD_SUCCESS, 12, 2030, "12", "cvc: must be 3 digits"),
     ("378282246310005", 12, 2030, "123", "cvc: must be 4 digits")],
)
def test_invalid_cards_are_refused_without_echoing_the_number(
    sandbox: SandboxProvider, pan: str, month: int, year: int, cvc: str, field: str
) -> None:
    with pytest.raises(InvalidCardData, match=field) as info:
        sandbox.tokenize(pan, month, year, cvc)
    assert pan not in str(info.value) and pan[-8:] not in str(info.value)


def test_card_expiring_this_month_is_still_valid(sandbox: SandboxProvider) -> None:
    assert sandbox.tokenize(cards.CARD_SUCCESS, 3, 2026, "123").last4 == "4242"


def test_vault_repr_does_not_show_card_data(sandbox: SandboxProvider) -> None:
    sandbox.tokenize(cards.CARD_SUCCESS, 12, 2030, "987")
    assert "4242424242424242" not in repr(sandbox.vault)
    assert "4242424242424242" not in repr(sandbox.vault._cards)
    assert "987" not in repr(sandbox.vault._cards)


def test_unknown_token_is_refused(sandbox: SandboxProvider) -> None:
    with pytest.raises(PaymentMethodNotFound, match="pm_nope"):
        sandbox.authorize(EUR50, "pm_nope", "k", {})


# --- authorize ----------------------------------------------------------------------------


def test_success_card_places_a_hold_that_expires_after_the_ttl(
    sandbox: SandboxProvider, clock: FakeClock
) -> None:
    auth = sandbox.authorize(EUR50, token(sandbox, cards.CARD_SUCCESS), "k1", {"s": "1"})
    assert auth.status is AuthorizationStatus.AUTHORIZED and auth.amount == EUR50
    assert auth.expires_at == clock.now + timedelta(days=7)
    assert auth.incremental_supported and auth.decline_code is None


@pytest.mark.parametrize(
    ("pan", "code"),
    [(cards.CARD_DECLINED, DeclineCode.CARD_DECLINED),
     (cards.CARD_INSUFFICIENT_FUNDS, DeclineCode.INSUFFICIENT_FUNDS),
     (cards.CARD_EXPIRED, DeclineCode.EXPIRED_CARD),
     (cards.CARD_INCORRECT_CVC, DeclineCode.INCORRECT_CVC)],
)
def test_decline_cards(sandbox: SandboxProvider, pan: str, code: DeclineCode) -> None:
    auth = sandbox.authorize(EUR50, token(sandbox, pan), "k1", {})
    assert auth.status is AuthorizationStatus.DECLINED and auth.decline_code is code
    with pytest.raises(InvalidPaymentRequest, match="is declined, cannot capture"):
        sandbox.capture(auth.id, EUR50, "k2")


@pytest.mark.parametrize(
    ("wallet", "status", "brand"),
    [(cards.WALLET_APPLE_PAY, AuthorizationStatus.AUTHORIZED, "visa"),
     (cards.WALLET_GOOGLE_PAY, AuthorizationStatus.AUTHORIZED, "mastercard"),
     (cards.WALLET_DECLINED, AuthorizationStatus.DECLINED, "visa")],
)
def test_wallet_tokens(
    sandbox: SandboxProvider, wallet: str, status: AuthorizationStatus, brand: str
) -> None:
    assert sandbox.authorize(EUR50, wallet, "k1", {}).status is status
    method = sandbox.describe(wallet)
    assert method.kind is PaymentMethodKind.WALLET and method.brand == brand


def test_3ds_challenge_success(sandbox: SandboxProvider, clock: FakeClock) -> None:
    auth = sandbox.authorize(EUR50, token(sandbox, cards.CARD_3DS_REQUIRED), "k1", {})
    assert auth.status is AuthorizationStatus.REQUIRES_ACTION
    assert auth.challenge_ref and auth.challenge_url and auth.challenge_ref in auth.challenge_url
    with pytest.raises(InvalidPaymentRequest, match="requires_action, cannot capture"):
        sandbox.capture(auth.id, EUR50, "k-early")
    clock.advance(timedelta(minutes=2))
    done = sandbox.complete_challenge(auth.challenge_ref, success=True)
    assert done.status is AuthorizationStatus.AUTHORIZED and done.challenge_ref is None
    assert done.expires_at == clock.now + timedelta(days=7)
    assert sandbox.capture(auth.id, EUR50, "k2").amount == EUR50
    with pytest.raises(InvalidPaymentRequest, match="no longer pending"):
        sandbox.complete_challenge(auth.challenge_ref, success=True)


def test_3ds_challenge_failure_declines(sandbox: SandboxProvider) -> None:
    auth = sandbox.authorize(EUR50, token(sandbox, cards.CARD_3DS_REQUIRED), "k1", {})
    assert auth.challenge_ref is not None
    failed = sandbox.complete_challenge(auth.challenge_ref, success=False)
    assert failed.status is AuthorizationStatus.DECLINED
    assert failed.decline_code is DeclineCode.AUTHENTICATION_FAILED
    with pytest.raises(ChallengeNotFound):
        sandbox.complete_challenge("chl_unknown", success=True)


def test_abandoned_challenge_expires(sandbox: SandboxProvider, clock: FakeClock) -> None:
    auth = sandbox.authorize(EUR50, token(sandbox, cards.CARD_3DS_REQUIRED), "k1", {})
    clock.advance(timedelta(minutes=15))
    assert sandbox.retrieve(auth.id).state is AuthorizationState.EXPIRED


def test_non_positive_amount_is_refused(sandbox: SandboxProvider) -> None:
    with pytest.raises(InvalidPaymentRequest, match="amount: must be positive"):
        sandbox.authorize(Money.of("0", "EUR"), cards.WALLET_APPLE_PAY, "k1", {})


# --- increment, capture, void -------------------------------------------------------------


def test_increment_raises_the_hold(sandbox: SandboxProvider) -> None:
    auth_id = hold(sandbox)
    bigger = sandbox.increment(auth_id, Money.of("80.00", "EUR"), "k-inc")
    assert bigger.amount == Money.of("80.00", "EUR")
    with pytest.raises(InvalidPaymentRequest, match=r"must exceed the authorized 80\.00 EUR"):
        sandbox.increment(auth_id, Money.of("70.00", "EUR"), "k-inc2")
    assert sandbox.capture(auth_id, Money.of("75.00", "EUR"), "k-cap").released == Money.of(
        "5.00", "EUR")


def test_increment_declined_by_the_issuer_keeps_the_hold(sandbox: SandboxProvider) -> None:
    auth_id = hold(sandbox, cards.CARD_INCREMENT_DECLINED)
    with pytest.raises(PaymentDeclined) as info:
        sandbox.increment(auth_id, Money.of("80.00", "EUR"), "k-inc")
    assert info.value.code is DeclineCode.INSUFFICIENT_FUNDS
    assert sandbox.retrieve(auth_id).amount == EUR50


def test_partial_capture_releases_the_rest(sandbox: SandboxProvider) -> None:
    auth_id = hold(sandbox)
    capture = sandbox.capture(auth_id, Money.of("23.47", "EUR"), "k-cap")
    assert capture.amount == Money.of("23.47", "EUR")
    assert capture.released == Money.of("26.53", "EUR")
    view = sandbox.retrieve(auth_id)
    assert view.state is AuthorizationState.CAPTURED and view.captured == capture.amount
    with pytest.raises(InvalidPaymentRequest, match="is captured, cannot capture"):
        sandbox.capture(auth_id, Money.of("1.00", "EUR"), "k-cap2")
    with pytest.raises(InvalidPaymentRequest, match="is captured, cannot void"):
        sandbox.void(auth_id, "k-void")


def test_capture_more_than_authorized_is_refused(sandbox: SandboxProvider) -> None:
    auth_id = hold(sandbox)
    with pytest.raises(InvalidPaymentRequest, match=r"amount: 50.01 EUR exceeds the authorized"):
        sandbox.capture(auth_id, Money.of("50.01", "EUR"), "k-cap")
    with pytest.raises(InvalidPaymentRequest, match="exceeds"):
        sandbox.capture(auth_id, Money.of("10", "USD"), "k-cap-usd")


def test_void_releases_the_hold(sandbox: SandboxProvider) -> None:
    auth_id = hold(sandbox)
    assert sandbox.void(auth_id, "k-void").state is AuthorizationState.VOIDED
    with pytest.raises(InvalidPaymentRequest, match="is voided, cannot capture"):
        sandbox.capture(auth_id, EUR50, "k-cap")
    with pytest.raises(AuthorizationNotFound):
        sandbox.void("auth_missing", "k-void2")


def test_hold_expires_after_the_configured_time(clock: FakeClock) -> None:
    sandbox = SandboxProvider(clock=clock, namespace="x", authorization_ttl=timedelta(hours=1))
    auth_id = hold(sandbox)
    clock.advance(timedelta(minutes=59, seconds=59))
    assert sandbox.retrieve(auth_id).state is AuthorizationState.AUTHORIZED
    clock.advance(timedelta(seconds=1))
    assert sandbox.expire_due() == [auth_id]
    assert sandbox.expire_due() == []
    with pytest.raises(AuthorizationExpired, match="has expired"):
        sandbox.capture(auth_id, EUR50, "k-cap")
    with pytest.raises(AuthorizationExpired):
        sandbox.increment(auth_id, Money.of("60", "EUR"), "k-inc")


# --- refunds ------------------------------------------------------------------------------


def test_refunds_partial_then_rest_never_more_than_captured(sandbox: SandboxProvider) -> None:
    capture = sandbox.capture(hold(sandbox), Money.of("30.00", "EUR"), "k-cap")
    first = sandbox.refund(capture.id, Money.of("10.00", "EUR"), "k-r1")
    assert first.amount == Money.of("10.00", "EUR") and first.capture_id == capture.id
    with pytest.raises(RefundExceedsCaptured, match=r"left to refund .* \(20.00 EUR\)"):
        sandbox.refund(capture.id, Money.of("20.01", "EUR"), "k-r2")
    rest = sandbox.refund(capture.id, None, "k-r3")
    assert rest.amount == Money.of("20.00", "EUR")
    with pytest.raises(InvalidPaymentRequest, match="must be positive"):
        sandbox.refund(capture.id, None, "k-r4")
    with pytest.raises(InvalidPaymentRequest, match="capture_id"):
        sandbox.refund("cap_missing", None, "k-r5")
