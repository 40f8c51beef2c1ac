"""The sandbox's card vault and test cards: card numbers and CVCs live here and nowhere else.

`tokenize` validates a card like a processor's vault would and hands back an unguessable token
(`secrets.token_urlsafe`) plus the display data evbill may keep (brand, last4, expiry). The PAN
and CVC stay in this object's memory; no repr, log line or exception message ever contains them.

A method belongs to the customer who first attaches it (`claim`, the sandbox's equivalent of a
provider customer id): another customer's claim is refused, as a processor refuses to attach a
payment method that is attached to another customer.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from evbill.payments.provider import (
    DeclineCode,
    InvalidCardData,
    PaymentMethod,
    PaymentMethodKind,
    PaymentMethodNotFound,
    PaymentMethodTaken,
)

__all__ = [
    "CARD_3DS_REQUIRED",
    "CARD_DECLINED",
    "CARD_EXPIRED",
    "CARD_INCORRECT_CVC",
    "CARD_INCREMENT_DECLINED",
    "CARD_INSUFFICIENT_FUNDS",
    "CARD_MASTERCARD",
    "CARD_SUCCESS",
    "WALLET_APPLE_PAY",
    "WALLET_DECLINED",
    "WALLET_GOOGLE_PAY",
    "Behaviour",
    "CardVault",
    "luhn_valid",
]

CARD_SUCCESS: Final = "4242424242424242"
CARD_MASTERCARD: Final = "5555555555554444"
CARD_DECLINED: Final = "4000000000000002"
CARD_INSUFFICIENT_FUNDS: Final = "4000000000009995"
CARD_EXPIRED: Final = "4000000000000069"
CARD_INCORRECT_CVC: Final = "4000000000000127"
CARD_3DS_REQUIRED: Final = "4000000000003220"
#: Sandbox-specific: authorizes, but every incremental authorization is declined.
CARD_INCREMENT_DECLINED: Final = "4000000000001018"

WALLET_APPLE_PAY: Final = "tok_wallet_apple_pay"
WALLET_GOOGLE_PAY: Final = "tok_wallet_google_pay"
WALLET_DECLINED: Final = "tok_wallet_declined"


class Behaviour(StrEnum):
    """What the sandbox's simulated issuer does with a card."""

    APPROVE = "approve"
    DECLINE = "decline"
    CHALLENGE = "challenge"  # 3-D Secure required
    NO_INCREMENT = "no_increment"


_TEST_CARDS: Final[dict[str, tuple[Behaviour, DeclineCode | None]]] = {
    CARD_DECLINED: (Behaviour.DECLINE, DeclineCode.CARD_DECLINED),
    CARD_INSUFFICIENT_FUNDS: (Behaviour.DECLINE, DeclineCode.INSUFFICIENT_FUNDS),
    CARD_EXPIRED: (Behaviour.DECLINE, DeclineCode.EXPIRED_CARD),
    CARD_INCORRECT_CVC: (Behaviour.DECLINE, DeclineCode.INCORRECT_CVC),
    CARD_3DS_REQUIRED: (Behaviour.CHALLENGE, None),
    CARD_INCREMENT_DECLINED: (Behaviour.NO_INCREMENT, None),
}


@dataclass(frozen=True, slots=True, repr=False)
class _StoredCard:
    pan: str
    cvc: str
    method: PaymentMethod
    behaviour: Behaviour
    decline_code: DeclineCode | None

    def __repr__(self) -> str:
        return f"<card {self.method.brand} ****{self.method.last4}>"


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _brand(pan: str) -> str:
    if pan.startswith("4"):
        return "visa"
    if pan[:2] in {"34", "37"}:
        return "amex"
    if 51 <= int(pan[:2]) <= 55 or 2221 <= int(pan[:4]) <= 2720:
        return "mastercard"
    if pan.startswith(("6011", "65")):
        return "discover"
    return "unknown"


def _wallets() -> dict[str, tuple[PaymentMethod, Behaviour, DeclineCode | None]]:
    def wallet(token: str, brand: str, last4: str) -> PaymentMethod:
        return PaymentMethod(token, PaymentMethodKind.WALLET, brand, last4, 12, 2034)

    return {
        WALLET_APPLE_PAY: (wallet(WALLET_APPLE_PAY, "visa", "4242"), Behaviour.APPROVE, None),
        WALLET_GOOGLE_PAY: (
            wallet(WALLET_GOOGLE_PAY, "mastercard", "4444"), Behaviour.APPROVE, None
        ),
        WALLET_DECLINED: (
            wallet(WALLET_DECLINED, "visa", "0002"), Behaviour.DECLINE, DeclineCode.CARD_DECLINED
        ),
    }


class CardVault:
    """Tokens for cards; the card data itself never leaves this object."""

    def __init__(self, clock: Callable[[], datetime], namespace: str) -> None:
        self._clock = clock
        self._namespace = namespace
        self._cards: dict[str, _StoredCard] = {}
        self._wallets = _wallets()
        self._owners: dict[str, str] = {}

    def tokenize(self, card_number: str, exp_month: int, exp_year: int, cvc: str) -> PaymentMethod:
        pan = card_number.replace(" ", "").replace("-", "")
        if not pan.isdigit() or not 12 <= len(pan) <= 19:
            raise InvalidCardData("card_number: must be 12 to 19 digits")
        if not luhn_valid(pan):
            raise InvalidCardData("card_number: fails the Luhn check")
        self._check_expiry(exp_month, exp_year)
        brand = _brand(pan)
        cvc_length = 4 if brand == "amex" else 3
        if not (cvc.isdigit() and len(cvc) == cvc_length):
            raise InvalidCardData(f"cvc: must be {cvc_length} digits")
        token = f"pm_sbx_{self._namespace}_{secrets.token_urlsafe(18)}"
        method = PaymentMethod(token, PaymentMethodKind.CARD, brand, pan[-4:], exp_month, exp_year)
        behaviour, code = _TEST_CARDS.get(pan, (Behaviour.APPROVE, None))
        self._cards[token] = _StoredCard(pan, cvc, method, behaviour, code)
        return method

    def _check_expiry(self, exp_month: int, exp_year: int) -> None:
        if not 1 <= exp_month <= 12:
            raise InvalidCardData("exp_month: must be 1 to 12")
        if not 2000 <= exp_year <= 2099:
            raise InvalidCardData("exp_year: must be a four-digit year")
        now = self._clock()
        if (exp_year, exp_month) < (now.year, now.month):
            raise InvalidCardData("exp_month/exp_year: the card has expired")

    def describe(self, token: str) -> PaymentMethod:
        return self._lookup(token)[0]

    def claim(self, token: str, customer: str) -> PaymentMethod:
        method = self._lookup(token)[0]
        owner = self._owners.setdefault(token, customer)
        if owner != customer:
            raise PaymentMethodTaken(
                "payment_method_token: this payment method belongs to another customer")
        return method

    def behaviour(self, token: str) -> tuple[Behaviour, DeclineCode | None]:
        _, behaviour, code = self._lookup(token)
        return behaviour, code

    def _lookup(self, token: str) -> tuple[PaymentMethod, Behaviour, DeclineCode | None]:
        if token in self._wallets:
            return self._wallets[token]
        card = self._cards.get(token)
        if card is None:
            raise PaymentMethodNotFound(f"payment_method_token: {token!r} is not in the vault")
        return card.method, card.behaviour, card.decline_code

    def __repr__(self) -> str:
        return f"<CardVault {len(self._cards)} cards>"
