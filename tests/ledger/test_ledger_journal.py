"""Journal values: balancing per currency, entry rules, idempotency ids and reversal."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from evbill.ledger import accounts as acc
from evbill.ledger.errors import (
    InvalidAccount,
    InvalidEntry,
    InvalidTransaction,
    UnbalancedTransaction,
)
from evbill.ledger.journal import (
    Entry,
    TransactionKind,
    balances_by_currency,
    build_transaction,
    reverse,
    transaction_id_for,
)
from evbill.money import Money

AT = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


def topup(key: str = "k1", *entries: Entry) -> object:
    return build_transaction(
        idempotency_key=key, kind="wallet_topup", reference="pay-1", occurred_at=AT,
        entries=entries or (Entry.debit(acc.provider_clearing("stripe"), eur("20")),
                            Entry.credit(acc.wallet("drv-1"), eur("20"))),
    )


def test_balanced_transaction_is_built_with_signed_entries() -> None:
    txn = build_transaction(
        idempotency_key="cap-1", kind=TransactionKind.CAPTURE, reference="sess-9",
        occurred_at=AT,
        entries=[Entry.debit(acc.provider_clearing("stripe"), eur("11.90")),
                 Entry.credit(acc.revenue("op-1"), eur("10.00")),
                 Entry.credit(acc.vat_payable("DE", "19"), eur("1.90"))],
    )
    assert [e.amount for e in txn.entries] == [Decimal("11.90"), Decimal("-10.00"),
                                               Decimal("-1.90")]
    assert balances_by_currency(txn.entries) == {"EUR": Decimal(0)}
    assert txn.kind is TransactionKind.CAPTURE
    assert txn.id == transaction_id_for("cap-1")


def test_unbalanced_transaction_names_the_currency_and_difference() -> None:
    with pytest.raises(UnbalancedTransaction, match=r"EUR \+0\.01"):
        build_transaction(
            idempotency_key="x", kind="capture", reference="s", occurred_at=AT,
            entries=[Entry.debit(acc.provider_clearing("p"), eur("10.01")),
                     Entry.credit(acc.revenue("op"), eur("10.00"))],
        )


def test_each_currency_must_balance_on_its_own() -> None:
    # +10 EUR and -10 CHF sum to zero as numbers but not as money.
    with pytest.raises(UnbalancedTransaction, match=r"CHF -10.*EUR \+10"):
        build_transaction(
            idempotency_key="x", kind="adjustment", reference="", occurred_at=AT,
            entries=[Entry.debit(acc.bank(), eur("10")),
                     Entry.credit(acc.revenue("op"), Money.of("10", "CHF"))],
        )
    txn = build_transaction(
        idempotency_key="fx", kind="adjustment", reference="", occurred_at=AT,
        entries=[Entry.debit(acc.bank("eur"), eur("10")),
                 Entry.credit(acc.revenue("op"), eur("10")),
                 Entry.debit(acc.bank("chf"), Money.of("9.50", "CHF")),
                 Entry.credit(acc.revenue("op"), Money.of("9.50", "CHF"))],
    )
    assert balances_by_currency(txn.entries) == {"EUR": 0, "CHF": 0}


def test_a_single_entry_is_not_a_transaction() -> None:
    with pytest.raises(UnbalancedTransaction, match="at least two entries"):
        build_transaction(idempotency_key="x", kind="adjustment", reference="",
                          occurred_at=AT, entries=[Entry.debit(acc.bank(), eur("1"))])


@pytest.mark.parametrize(
    ("money", "reason"),
    [(Money.of("0", "EUR"), "zero"), (Money.of("1.001", "EUR"), "more than 2 decimals"),
     (Money.of("1.5", "JPY"), "more than 0 decimals")],
)
def test_entry_amount_rules(money: Money, reason: str) -> None:
    with pytest.raises(InvalidEntry, match=reason):
        Entry(acc.bank(), money)


def test_trailing_zeros_within_the_minor_unit_are_fine() -> None:
    assert Entry(acc.bank(), Money.of("1.500", "EUR")).amount == Decimal("1.5")


def test_debit_and_credit_take_positive_amounts() -> None:
    with pytest.raises(InvalidEntry, match="positive"):
        Entry.debit(acc.bank(), eur("-1"))
    assert Entry.credit(acc.bank(), eur("2")).amount == Decimal("-2")
    assert not Entry.credit(acc.bank(), eur("2")).is_debit


@pytest.mark.parametrize(
    "code",
    ["wallet:drv", "asset", "income:x", "asset::x", "asset:wallet:a:b c",
     "liability:w:" + "x" * 81],
)
def test_malformed_account_codes_are_refused(code: str) -> None:
    with pytest.raises(InvalidAccount, match="account"):
        Entry(code, eur("1"))


def test_chart_constructors() -> None:
    assert acc.wallet("drv-42") == "liability:wallet:drv-42"
    assert acc.revenue("op-1") == "revenue:charging:op-1"
    assert acc.vat_payable("DE", "19") == "liability:vat:DE:19"
    assert acc.AccountCode(acc.receivable("acme")).type is acc.AccountType.ASSET
    with pytest.raises(InvalidAccount, match="segment"):
        acc.wallet("drv:42")


def test_header_rules() -> None:
    with pytest.raises(InvalidTransaction, match="time zone"):
        build_transaction(idempotency_key="k", kind="capture", reference="",
                          occurred_at=datetime(2025, 1, 1), entries=[])
    with pytest.raises(InvalidTransaction, match="kind"):
        build_transaction(idempotency_key="k", kind="gift", reference="", occurred_at=AT,
                          entries=[])
    with pytest.raises(InvalidTransaction, match="idempotency_key: must not be empty"):
        build_transaction(idempotency_key="", kind="capture", reference="", occurred_at=AT,
                          entries=[])
    with pytest.raises(InvalidTransaction, match="reference: control"):
        build_transaction(idempotency_key="k", kind="capture", reference="a\nb",
                          occurred_at=AT, entries=[])


def test_timestamps_are_kept_in_utc() -> None:
    local = datetime(2025, 3, 1, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    txn = build_transaction(
        idempotency_key="k", kind="adjustment", reference="", occurred_at=local,
        entries=[Entry.debit(acc.bank(), eur("1")), Entry.credit(acc.revenue("o"), eur("1"))],
    )
    assert txn.occurred_at == datetime(2025, 2, 28, 23, 30, tzinfo=UTC)
    assert txn.day.isoformat() == "2025-02-28"


def test_transaction_ids_are_derived_from_the_key() -> None:
    assert transaction_id_for("a") == transaction_id_for("a")
    assert transaction_id_for("a") != transaction_id_for("b")


def test_reverse_negates_every_line_and_points_back() -> None:
    original = topup()
    later = AT + timedelta(days=1)
    undo = reverse(original, occurred_at=later)
    assert undo.kind is TransactionKind.REVERSAL
    assert undo.reverses == original.id
    assert undo.idempotency_key == "reversal:k1"
    assert undo.occurred_at == later
    assert [(e.account, -e.amount) for e in undo.entries] == [
        (e.account, e.amount) for e in original.entries
    ]
    combined = balances_by_currency([*original.entries, *undo.entries])
    assert combined == {"EUR": 0}
