"""Journal values: entries, transactions, balancing per currency, and reversal.

An `Entry` is one signed line: positive amounts are debits, negative amounts credits. A
`Transaction` is a balanced set of entries with an idempotency key, a kind, a reference and a
timestamp that the caller passes in. Building one is the only way to get one, and it refuses
anything unbalanced, so every transaction that exists balances.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Final

from evbill.ledger.accounts import validate_code
from evbill.ledger.errors import InvalidEntry, InvalidTransaction, UnbalancedTransaction
from evbill.money import Money, MoneyError, minor_unit

__all__ = [
    "Entry",
    "Transaction",
    "TransactionKind",
    "balances_by_currency",
    "build_transaction",
    "reverse",
    "transaction_id_for",
]

#: Namespace of the deterministic transaction ids (uuid5 of the idempotency key).
_ID_NAMESPACE: Final = uuid.UUID("6f1c2a8e-3b5d-5e7f-9a1b-2c3d4e5f6a7b")
MAX_TEXT: Final = 200


class TransactionKind(StrEnum):
    """What a transaction records; free text would make reports guess."""

    HOLD = "hold"
    HOLD_RELEASE = "hold_release"
    CAPTURE = "capture"
    REFUND = "refund"
    WALLET_TOPUP = "wallet_topup"
    WALLET_SPEND = "wallet_spend"
    POSTPAID_CHARGE = "postpaid_charge"
    POSTPAID_PAYMENT = "postpaid_payment"
    PROVIDER_FEE = "provider_fee"
    PAYOUT = "payout"
    REVERSAL = "reversal"
    ADJUSTMENT = "adjustment"
    VAT_ROUNDING = "vat_rounding"  # an invoice's VAT per rate vs its sessions' booked VAT


def _positive(account: str, money: Money) -> None:
    if not isinstance(money, Money) or money.amount <= 0:
        raise InvalidEntry(f"amount of {account}: debit/credit take a positive Money")


@dataclass(frozen=True, slots=True)
class Entry:
    """One journal line: an account and a signed amount (debit > 0, credit < 0)."""

    account: str
    money: Money

    def __post_init__(self) -> None:
        validate_code(self.account)
        if not isinstance(self.money, Money):
            raise InvalidEntry(f"amount of {self.account}: expected Money")
        if self.money.amount.is_zero():
            raise InvalidEntry(f"amount of {self.account}: zero entries carry no information")
        places = minor_unit(self.money.currency)
        if self.money.amount != self.money.amount.quantize(Decimal(1).scaleb(-places)):
            raise InvalidEntry(
                f"amount of {self.account}: {self.money.amount} has more than {places} "
                f"decimals of {self.money.currency}; round before posting"
            )

    @classmethod
    def debit(cls, account: str, money: Money) -> Entry:
        """A debit of a positive amount."""
        _positive(account, money)
        return cls(account, money)

    @classmethod
    def credit(cls, account: str, money: Money) -> Entry:
        """A credit of a positive amount (stored negative)."""
        _positive(account, money)
        return cls(account, -money)

    @property
    def amount(self) -> Decimal:
        return self.money.amount

    @property
    def currency(self) -> str:
        return self.money.currency

    @property
    def is_debit(self) -> bool:
        return self.money.amount > 0


@dataclass(frozen=True, slots=True)
class Transaction:
    """A balanced, immutable set of entries. Build it with `build_transaction`."""

    id: str
    idempotency_key: str
    kind: TransactionKind
    reference: str
    occurred_at: datetime  # timezone-aware, UTC
    entries: tuple[Entry, ...]
    reverses: str | None = None

    @property
    def day(self) -> date:
        return self.occurred_at.date()


def transaction_id_for(idempotency_key: str) -> str:
    """The transaction id is derived from its idempotency key, so no randomness is needed."""
    return str(uuid.uuid5(_ID_NAMESPACE, idempotency_key))


def balances_by_currency(entries: Iterable[Entry]) -> dict[str, Decimal]:
    """Sum of signed amounts per currency (all zeros for a balanced set)."""
    totals: dict[str, Decimal] = {}
    for entry in entries:
        totals[entry.currency] = totals.get(entry.currency, Decimal(0)) + entry.amount
    return totals


def _text(value: str, field: str, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise InvalidTransaction(f"{field}: expected a string, got {type(value).__name__}")
    if not value and not allow_empty:
        raise InvalidTransaction(f"{field}: must not be empty")
    if len(value) > MAX_TEXT:
        raise InvalidTransaction(f"{field}: longer than {MAX_TEXT} characters")
    if any(ord(ch) < 32 for ch in value):
        raise InvalidTransaction(f"{field}: control characters are not allowed")
    return value


def _utc(occurred_at: datetime) -> datetime:
    if not isinstance(occurred_at, datetime):
        raise InvalidTransaction("occurred_at: expected a datetime")
    if occurred_at.tzinfo is None or occurred_at.utcoffset() is None:
        raise InvalidTransaction(f"occurred_at: {occurred_at.isoformat()} has no time zone")
    return occurred_at.astimezone(UTC)


def _check_balanced(entries: tuple[Entry, ...], key: str) -> None:
    if len(entries) < 2:
        raise UnbalancedTransaction(f"transaction {key!r}: needs at least two entries")
    off = {cur: total for cur, total in balances_by_currency(entries).items() if total != 0}
    if off:
        detail = ", ".join(f"{cur} {total:+f}" for cur, total in sorted(off.items()))
        raise UnbalancedTransaction(
            f"transaction {key!r}: debits and credits differ by {detail}"
        )


def build_transaction(
    *,
    idempotency_key: str,
    kind: TransactionKind | str,
    reference: str,
    occurred_at: datetime,
    entries: Iterable[Entry],
    reverses: str | None = None,
) -> Transaction:
    """Validate and build a transaction; raise `UnbalancedTransaction` if any currency is off."""
    key = _text(idempotency_key, "idempotency_key")
    try:
        kind = TransactionKind(kind)
    except ValueError:
        raise InvalidTransaction(f"kind: {kind!r} is not a TransactionKind") from None
    reference = _text(reference, "reference", allow_empty=True)
    occurred_at = _utc(occurred_at)
    reverses = None if reverses is None else _text(reverses, "reverses")
    lines = tuple(entries)
    if any(not isinstance(line, Entry) for line in lines):
        raise InvalidTransaction(f"entries of {key!r}: every entry must be an Entry")
    _check_balanced(lines, key)
    return Transaction(
        id=transaction_id_for(key),
        idempotency_key=key,
        kind=kind,
        reference=reference,
        occurred_at=occurred_at,
        entries=lines,
        reverses=reverses,
    )


def reverse(
    original: Transaction,
    *,
    occurred_at: datetime,
    idempotency_key: str | None = None,
    reference: str | None = None,
) -> Transaction:
    """A correcting transaction that undoes `original` line by line (entries are never edited)."""
    return build_transaction(
        idempotency_key=idempotency_key or f"reversal:{original.idempotency_key}",
        kind=TransactionKind.REVERSAL,
        reference=original.reference if reference is None else reference,
        occurred_at=occurred_at,
        entries=[Entry(e.account, -e.money) for e in original.entries],
        reverses=original.id,
    )


def money_of(amount: object, currency: str, *, field: str) -> Money:
    """Money from caller input, with the money error re-raised as an `InvalidEntry`."""
    try:
        return Money.of(amount, currency)
    except MoneyError as exc:
        raise InvalidEntry(f"{field}: {exc}") from None


def entries_from(lines: Mapping[str, Money]) -> tuple[Entry, ...]:
    """Entries from an `{account: signed Money}` mapping (handy in tests and recipes)."""
    return tuple(Entry(account, money) for account, money in lines.items())
