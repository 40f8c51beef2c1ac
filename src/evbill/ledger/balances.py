"""Trial balance: the balance of every account per currency, which sums to zero per currency."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

__all__ = ["BalanceLine", "TrialBalance", "trial_balance"]


@dataclass(frozen=True, slots=True)
class BalanceLine:
    """One account's balance in one currency (positive: debit balance, negative: credit)."""

    account: str
    currency: str
    balance: Decimal
    debits: Decimal
    credits: Decimal  # a positive number: the sum of the credit entries' sizes


@dataclass(frozen=True, slots=True)
class TrialBalance:
    lines: tuple[BalanceLine, ...]
    totals: tuple[tuple[str, Decimal], ...]  # (currency, sum of balances): zero when sound

    @property
    def balanced(self) -> bool:
        return all(total == 0 for _, total in self.totals)


def trial_balance(amounts: Iterable[tuple[str, str, Decimal]]) -> TrialBalance:
    """Fold `(account, currency, signed amount)` rows into a trial balance."""
    debits: dict[tuple[str, str], Decimal] = {}
    credits: dict[tuple[str, str], Decimal] = {}
    zero = Decimal(0)
    for account, currency, amount in amounts:
        key = (account, currency)
        if amount >= 0:
            debits[key] = debits.get(key, zero) + amount
        else:
            credits[key] = credits.get(key, zero) - amount
    lines = tuple(
        BalanceLine(
            account=key[0],
            currency=key[1],
            balance=debits.get(key, zero) - credits.get(key, zero),
            debits=debits.get(key, zero),
            credits=credits.get(key, zero),
        )
        for key in sorted(debits.keys() | credits.keys())
    )
    totals: dict[str, Decimal] = {}
    for line in lines:
        totals[line.currency] = totals.get(line.currency, zero) + line.balance
    return TrialBalance(lines=lines, totals=tuple(sorted(totals.items())))
