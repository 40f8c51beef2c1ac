"""Posting recipes: the balanced entries of each money movement evbill makes.

Payments and invoicing call these instead of assembling entries by hand, so every flow books
the same accounts the same way. Amounts are positive `Money` already rounded to the currency's
minor unit; gross = net + VAT. Each returns an unposted `Transaction` for `LedgerService.post`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from evbill.ledger import accounts as acc
from evbill.ledger.journal import Entry, Transaction, TransactionKind, build_transaction
from evbill.money import Money, sum_money

__all__ = [
    "Meta",
    "VatLine",
    "capture",
    "hold",
    "payout",
    "postpaid_charge",
    "postpaid_payment",
    "provider_fee",
    "refund",
    "release_hold",
    "vat_rounding",
    "wallet_spend",
    "wallet_topup",
]


@dataclass(frozen=True, slots=True)
class VatLine:
    """VAT owed at one rate in one country (rate as text, e.g. "19" or "7.7")."""

    country: str
    rate: str
    amount: Money


@dataclass(frozen=True, slots=True)
class Meta:
    """What every posting carries: idempotency key, reference (session/payment id), time."""

    key: str
    reference: str
    at: datetime


def _txn(meta: Meta, kind: TransactionKind, entries: Sequence[Entry]) -> Transaction:
    return build_transaction(idempotency_key=meta.key, kind=kind, reference=meta.reference,
                             occurred_at=meta.at, entries=entries)


def _sale_credits(operator: str, net: Money, vat: Sequence[VatLine]) -> list[Entry]:
    # A sub-cent net can round to zero while VAT does not: no zero entry is ever written.
    lines = [] if net.is_zero() else [Entry.credit(acc.revenue(operator), net)]
    lines += [Entry.credit(acc.vat_payable(v.country, v.rate), v.amount) for v in vat
              if not v.amount.is_zero()]
    return lines


def _gross(net: Money, vat: Sequence[VatLine]) -> Money:
    return net + sum_money([v.amount for v in vat], net.currency)


def hold(meta: Meta, provider: str, amount: Money) -> Transaction:
    """A card authorization (pre-authorization hold) was placed at the provider."""
    return _txn(meta, TransactionKind.HOLD, [
        Entry.debit(acc.authorizations(provider), amount),
        Entry.credit(acc.authorizations_pending(provider), amount),
    ])


def release_hold(meta: Meta, provider: str, amount: Money) -> Transaction:
    """An unused hold (or its unused remainder) was released."""
    return _txn(meta, TransactionKind.HOLD_RELEASE, [
        Entry.debit(acc.authorizations_pending(provider), amount),
        Entry.credit(acc.authorizations(provider), amount),
    ])


def capture(
    meta: Meta, provider: str, operator: str, net: Money, vat: Sequence[VatLine],
    *, held: Money | None = None,
) -> Transaction:
    """A session's price was captured: the hold is consumed, the provider owes us the gross."""
    lines = [Entry.debit(acc.provider_clearing(provider), _gross(net, vat)),
             *_sale_credits(operator, net, vat)]
    if held is not None and not held.is_zero():
        lines += [Entry.debit(acc.authorizations_pending(provider), held),
                  Entry.credit(acc.authorizations(provider), held)]
    return _txn(meta, TransactionKind.CAPTURE, lines)


def wallet_topup(meta: Meta, provider: str, driver: str, amount: Money) -> Transaction:
    """A driver paid money into the prepaid wallet: we owe it to them."""
    return _txn(meta, TransactionKind.WALLET_TOPUP, [
        Entry.debit(acc.provider_clearing(provider), amount),
        Entry.credit(acc.wallet(driver), amount),
    ])


def wallet_spend(
    meta: Meta, driver: str, operator: str, net: Money, vat: Sequence[VatLine]
) -> Transaction:
    """A session was paid from the wallet."""
    return _txn(meta, TransactionKind.WALLET_SPEND, [
        Entry.debit(acc.wallet(driver), _gross(net, vat)), *_sale_credits(operator, net, vat),
    ])


def postpaid_charge(
    meta: Meta, customer: str, operator: str, net: Money, vat: Sequence[VatLine]
) -> Transaction:
    """A session was billed to a postpaid customer account (invoiced later)."""
    return _txn(meta, TransactionKind.POSTPAID_CHARGE, [
        Entry.debit(acc.receivable(customer), _gross(net, vat)),
        *_sale_credits(operator, net, vat),
    ])


def postpaid_payment(meta: Meta, provider: str, customer: str, amount: Money) -> Transaction:
    """A postpaid customer paid (part of) what they owe."""
    return _txn(meta, TransactionKind.POSTPAID_PAYMENT, [
        Entry.debit(acc.provider_clearing(provider), amount),
        Entry.credit(acc.receivable(customer), amount),
    ])


def refund(
    meta: Meta, operator: str, net: Money, vat: Sequence[VatLine], *, to_account: str
) -> Transaction:
    """Money given back: contra-revenue and VAT debited, `to_account` (clearing, wallet,
    receivable) credited with the gross."""
    lines = [Entry.debit(acc.refunds(operator), net)]
    lines += [Entry.debit(acc.vat_payable(v.country, v.rate), v.amount) for v in vat
              if not v.amount.is_zero()]
    lines.append(Entry.credit(to_account, _gross(net, vat)))
    return _txn(meta, TransactionKind.REFUND, lines)


def provider_fee(meta: Meta, provider: str, fee: Money) -> Transaction:
    """The provider kept a fee out of what it holds for us."""
    return _txn(meta, TransactionKind.PROVIDER_FEE, [
        Entry.debit(acc.provider_fees(provider), fee),
        Entry.credit(acc.provider_clearing(provider), fee),
    ])


def payout(meta: Meta, provider: str, amount: Money, bank: str = "main") -> Transaction:
    """The provider paid out to our bank account."""
    return _txn(meta, TransactionKind.PAYOUT, [
        Entry.debit(acc.bank(bank), amount),
        Entry.credit(acc.provider_clearing(provider), amount),
    ])


def vat_rounding(meta: Meta, customer: str, differences: Sequence[VatLine]) -> Transaction | None:
    """An invoice's VAT per rate (BR-CO-17: once on the sum of its nets) less the VAT booked
    when its sessions were charged one by one: a positive difference is owed by the customer
    (receivable debited, VAT payable credited), a negative one given back. Rates whose
    difference is zero write nothing; None when every difference is zero."""
    changed = [v for v in differences if not v.amount.is_zero()]
    if not changed:
        return None
    lines = [Entry.credit(acc.vat_payable(v.country, v.rate), v.amount) if v.amount.amount > 0
             else Entry.debit(acc.vat_payable(v.country, v.rate), -v.amount) for v in changed]
    owed = sum_money([v.amount for v in changed], changed[0].amount.currency)
    if owed.amount > 0:
        lines.append(Entry.debit(acc.receivable(customer), owed))
    elif owed.amount < 0:
        lines.append(Entry.credit(acc.receivable(customer), -owed))
    return _txn(meta, TransactionKind.VAT_ROUNDING, lines)
