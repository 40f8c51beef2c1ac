"""The VAT rounding adjustment recipe and posting inside a caller's transaction: the direction
per rate, nothing for zero differences, a receivable line only for what is owed in all, and
one posting per idempotency key, committed or rolled back with the caller's own writes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from evbill.ledger import accounts as acc
from evbill.ledger.journal import Transaction
from evbill.ledger.postings import Meta, VatLine, vat_rounding
from evbill.ledger.service import LedgerService
from evbill.ledger.store import post_within, sql_unit_of_work
from evbill.money import Money
from evbill.store.database import Database

AT = datetime(2026, 11, 1, 5, tzinfo=UTC)
META = Meta(key="invoicing:vat_rounding:invoice:acct-1:2026-10:EUR", reference="INV-1", at=AT)


def _line(rate: str, amount: str) -> VatLine:
    return VatLine("DE", rate, Money.of(amount, "EUR"))


def _signed(txn: Transaction) -> list[tuple[str, Decimal]]:
    return [(e.account, e.money.amount) for e in txn.entries]


def test_an_invoice_taking_less_vat_gives_it_back_to_the_receivable() -> None:
    txn = vat_rounding(META, "acct-1", [_line("19", "-0.60")])
    assert txn is not None and txn.kind.value == "vat_rounding"
    assert _signed(txn) == [(acc.vat_payable("DE", "19"), Decimal("0.60")),
                            (acc.receivable("acct-1"), Decimal("-0.60"))]  # fmt: skip


def test_an_invoice_taking_more_vat_is_owed_by_the_customer() -> None:
    txn = vat_rounding(META, "acct-1", [_line("19", "0.54"), _line("7", "0.00")])
    assert txn is not None
    assert _signed(txn) == [(acc.vat_payable("DE", "19"), Decimal("-0.54")),
                            (acc.receivable("acct-1"), Decimal("0.54"))]  # fmt: skip


def test_no_difference_books_nothing_and_offsetting_rates_leave_the_receivable_alone() -> None:
    assert vat_rounding(META, "acct-1", [_line("19", "0"), _line("7", "0.00")]) is None
    assert vat_rounding(META, "acct-1", []) is None
    txn = vat_rounding(META, "acct-1", [_line("19", "0.01"), _line("7", "-0.01")])
    assert txn is not None
    assert _signed(txn) == [(acc.vat_payable("DE", "19"), Decimal("-0.01")),
                            (acc.vat_payable("DE", "7"), Decimal("0.01"))]  # fmt: skip


def test_post_within_commits_with_the_caller_and_once_per_key(db: Database) -> None:
    ledger = LedgerService(sql_unit_of_work(db))
    txn = vat_rounding(META, "acct-1", [_line("19", "-0.60")])
    assert txn is not None
    with db.sessions() as s:
        post_within(s, txn)
        s.rollback()  # the caller's transaction failed: nothing was booked
    assert ledger.entry_count() == 0
    with db.sessions() as s:
        first = post_within(s, txn)
        s.commit()
    with db.sessions() as s:
        again = vat_rounding(META, "acct-1", [_line("19", "-0.61")])
        assert again is not None
        assert post_within(s, again).id == first.id  # the key's first transaction stands
        s.commit()
    assert ledger.entry_count() == 2
    assert ledger.verify().ok
    balances = {line.account: line.balance for line in ledger.trial_balance().lines}
    assert balances[acc.receivable("acct-1")] == Decimal("-0.60")
