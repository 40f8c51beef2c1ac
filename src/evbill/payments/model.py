"""Payment flow values and their pure rules: settings, a session's charge, hold sizing, refund
splits. No I/O and no clock: the service passes everything in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from evbill.ledger.postings import VatLine
from evbill.money import Money, sum_money
from evbill.payments.provider import DeclineCode, PaymentError

__all__ = [
    "ChargeNotFound",
    "HoldNotFound",
    "HoldOutcome",
    "HoldResult",
    "PaymentSettings",
    "PaymentStateError",
    "RunningCostDecision",
    "SessionCharge",
    "WalletBelowMinimum",
    "WalletTopupDeclined",
    "increment_target",
    "split_refund",
]


class HoldNotFound(PaymentError):
    pass


class ChargeNotFound(PaymentError):
    pass


class PaymentStateError(PaymentError):
    """An operation that the payment's current state does not allow."""


class WalletBelowMinimum(PaymentError):
    """A wallet start refused: the balance is below the station's minimum."""


class WalletTopupDeclined(PaymentError):
    def __init__(self, code: DeclineCode | None, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class PaymentSettings:
    """Operator-configurable payment rules (per station where it matters)."""

    currency: str = "EUR"
    default_hold: Money = field(default_factory=lambda: Money.of("50.00", "EUR"))
    station_holds: Mapping[str, Money] = field(default_factory=dict)
    default_wallet_minimum: Money = field(default_factory=lambda: Money.of("10.00", "EUR"))
    station_wallet_minimums: Mapping[str, Money] = field(default_factory=dict)
    #: Ask for more once the running cost reaches this share of the hold.
    increment_at: Decimal = Decimal("0.8")
    increment_step: Money = field(default_factory=lambda: Money.of("25.00", "EUR"))
    max_hold: Money = field(default_factory=lambda: Money.of("150.00", "EUR"))
    #: Holds still uncaptured this long after they were placed are released by the sweep.
    stale_hold_after: timedelta = timedelta(hours=48)
    capture_attempts_before_dunning: int = 1
    dunning_retry_after: timedelta = timedelta(hours=6)

    def hold_for(self, station_id: str | None) -> Money:
        return self.station_holds.get(station_id or "", self.default_hold)

    def wallet_minimum_for(self, station_id: str | None) -> Money:
        return self.station_wallet_minimums.get(station_id or "", self.default_wallet_minimum)


@dataclass(frozen=True, slots=True)
class SessionCharge:
    """A rated session's price: net per operator plus VAT lines; gross is what the driver pays."""

    reference: str
    operator: str
    net: Money
    vat: tuple[VatLine, ...] = ()

    @property
    def gross(self) -> Money:
        return self.net + sum_money([v.amount for v in self.vat], self.net.currency)

    def vat_json(self) -> list[dict[str, str]]:
        return [{"country": v.country, "rate": v.rate, "amount": f"{v.amount.amount:f}"}
                for v in self.vat]

    def to_json(self) -> dict[str, Any]:
        return {"reference": self.reference, "operator": self.operator,
                "net": f"{self.net.amount:f}", "currency": self.net.currency,
                "vat": self.vat_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SessionCharge:
        currency = str(data["currency"])
        return cls(str(data["reference"]), str(data["operator"]),
                   Money.of(str(data["net"]), currency), vat_from_json(data["vat"], currency))


def vat_from_json(lines: Sequence[Mapping[str, str]], currency: str) -> tuple[VatLine, ...]:
    return tuple(VatLine(line["country"], line["rate"], Money.of(line["amount"], currency))
                 for line in lines)


class HoldOutcome(StrEnum):
    AUTHORIZED = "authorized"
    REQUIRES_ACTION = "requires_action"
    DECLINED = "declined"


@dataclass(frozen=True, slots=True)
class HoldResult:
    authorization_id: str
    outcome: HoldOutcome
    amount: Money
    decline_code: DeclineCode | None = None
    challenge_ref: str | None = None
    challenge_url: str | None = None
    expires_at: datetime | None = None


class RunningCostDecision(StrEnum):
    CONTINUE = "continue"  # the hold covers it
    INCREMENTED = "incremented"  # the hold was raised
    STOP = "stop"  # at the limit: stop charging


def increment_target(held: Money, running_cost: Money, settings: PaymentSettings) -> Money | None:
    """The hold to ask for when `running_cost` nears `held`, or None if none is needed.

    Steps of `increment_step` until the cost is back under the threshold, capped at
    `max_hold`; None also when the hold is already at the cap (the caller stops charging).
    """
    if running_cost < held * settings.increment_at:
        return None
    target = held
    while running_cost >= target * settings.increment_at and target < settings.max_hold:
        target = min(target + settings.increment_step, settings.max_hold)
    return target if target > held else None


def split_refund(
    net: Money, vat: Sequence[VatLine], gross: Money, amount: Money
) -> tuple[Money, tuple[VatLine, ...]]:
    """Split a gross refund into net and VAT lines in the charge's proportions.

    Each VAT line is rounded half-up to the minor unit; net takes the remainder, so the
    parts always add up to `amount` exactly. A full refund returns the original split.
    """
    if amount == gross:
        return net, tuple(vat)
    share = amount.amount / gross.amount
    lines = tuple(VatLine(v.country, v.rate, Money(v.amount.amount * share, v.amount.currency)
                          .round_to_minor(ROUND_HALF_UP)) for v in vat)
    vat_total = sum_money([v.amount for v in lines], amount.currency)
    return amount - vat_total, lines
