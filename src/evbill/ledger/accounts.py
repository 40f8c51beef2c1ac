"""Chart of accounts: structured account codes (`type:category[:qualifier…]`) and constructors.

Codes are plain strings so they travel through JSON, SQL and hashes unchanged; `AccountCode`
validates one and tells its type. Debits are positive and credits negative everywhere in the
ledger, so an asset or expense normally has a positive balance and a liability, equity or
revenue account a negative one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from evbill.ledger.errors import InvalidAccount

__all__ = [
    "AccountCode",
    "AccountType",
    "account",
    "authorizations",
    "authorizations_pending",
    "bank",
    "provider_clearing",
    "provider_fees",
    "receivable",
    "refunds",
    "revenue",
    "vat_payable",
    "wallet",
]


class AccountType(StrEnum):
    """The five classic account types; the first segment of every code."""

    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    REVENUE = "revenue"
    EXPENSE = "expense"


#: One segment: letters, digits and `_ . - + @`; colons separate segments, so ids may not hold one.
_SEGMENT: Final = re.compile(r"[A-Za-z0-9_.\-+@]{1,80}")
MAX_CODE_LENGTH: Final = 200


@dataclass(frozen=True, slots=True)
class AccountCode:
    """A validated account code such as `liability:wallet:drv-42`."""

    code: str

    def __post_init__(self) -> None:
        validate_code(self.code)

    @property
    def type(self) -> AccountType:
        return AccountType(self.code.split(":", 1)[0])

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.code.split(":"))

    def __str__(self) -> str:
        return self.code


def validate_code(code: str) -> str:
    """Return `code` if it is a well-formed account code, else raise `InvalidAccount`."""
    if not isinstance(code, str):
        raise InvalidAccount(f"account: expected a string, got {type(code).__name__}")
    if len(code) > MAX_CODE_LENGTH:
        raise InvalidAccount(f"account: {code[:40]!r}… is longer than {MAX_CODE_LENGTH} chars")
    segments = code.split(":")
    if len(segments) < 2:
        raise InvalidAccount(f"account: {code!r} needs at least `type:category`")
    if segments[0] not in AccountType.__members__.values():
        types = ", ".join(t.value for t in AccountType)
        raise InvalidAccount(f"account: {code!r} starts with {segments[0]!r}, not one of {types}")
    for segment in segments:
        if not _SEGMENT.fullmatch(segment):
            raise InvalidAccount(
                f"account: segment {segment!r} of {code!r} must be 1-80 chars of "
                "letters, digits, _ . - + @"
            )
    return code


def account(*segments: str) -> str:
    """Join segments into a validated code: `account("asset", "bank", "main")`.

    Each segment is checked on its own first, so an id holding a colon cannot smuggle in
    extra segments.
    """
    for segment in segments:
        if not isinstance(segment, str) or not _SEGMENT.fullmatch(segment):
            raise InvalidAccount(
                f"account: segment {segment!r} must be 1-80 chars of letters, digits, _ . - + @"
            )
    return validate_code(":".join(segments))


# --- the chart ------------------------------------------------------------------------------
def wallet(driver_id: str) -> str:
    """Prepaid balance we owe a driver (liability)."""
    return account("liability", "wallet", driver_id)


def receivable(customer_account: str) -> str:
    """Postpaid amounts a customer account owes us (asset)."""
    return account("asset", "receivable", customer_account)


def provider_clearing(provider: str) -> str:
    """Captured money the payment provider holds for us until it pays out (asset)."""
    return account("asset", "clearing", provider)


def authorizations(provider: str) -> str:
    """Funds authorized (on hold) on drivers' cards at a provider: a memo asset."""
    return account("asset", "authorizations", provider)


def authorizations_pending(provider: str) -> str:
    """The contra side of open holds: released on capture or on release (memo liability)."""
    return account("liability", "authorizations", provider)


def revenue(operator_id: str) -> str:
    """Charging revenue, net of VAT, of one charge point operator."""
    return account("revenue", "charging", operator_id)


def refunds(operator_id: str) -> str:
    """Contra-revenue: net amounts given back to drivers of one operator."""
    return account("revenue", "refunds", operator_id)


def vat_payable(country: str, rate: str) -> str:
    """VAT owed to one country's tax office at one rate, e.g. `liability:vat:DE:19`."""
    return account("liability", "vat", country, rate)


def provider_fees(provider: str) -> str:
    """Fees a payment provider keeps (expense)."""
    return account("expense", "provider_fees", provider)


def bank(name: str = "main") -> str:
    """Cash at a bank account (asset)."""
    return account("asset", "bank", name)
