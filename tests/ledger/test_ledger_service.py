"""LedgerService on SQLite and PostgreSQL (and memory): one unit of work per posting."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from evbill.ledger import accounts as acc
from evbill.ledger import postings as p
from evbill.ledger.errors import DayClosed, UnbalancedTransaction, UnknownTransaction
from evbill.ledger.journal import Entry, TransactionKind, build_transaction
from evbill.ledger.merkle import merkle_root
from evbill.ledger.proof_check import check_proof
from evbill.ledger.service import LedgerService
from evbill.money import Money

from .ledger_support import MemoryBackend, SqlBackend

AT = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
EUR = "EUR"


def eur(amount: str) -> Money:
    return Money.of(amount, EUR)


def capture(key: str, at: datetime = AT, net: str = "10.00", vat: str = "1.90") -> object:
    return p.capture(p.Meta(key, f"sess-{key}", at), "stripe", "op-1", eur(net),
                     [p.VatLine("DE", "19", eur(vat))], held=eur("50"))


def test_post_is_idempotent_and_writes_once(sql_backend: SqlBackend) -> None:
    service = sql_backend.service
    first = service.post(capture("c1"))
    again = service.post(capture("c1", net="99.00", vat="0.00"))  # same key, other content
    assert again == first
    assert service.entry_count() == 5
    assert [e.seq for e in sql_backend.stored()] == [1, 2, 3, 4, 5]
    assert service.transaction(first.id) == first
    assert service.verify().ok


def test_unbalanced_postings_write_nothing(sql_backend: SqlBackend) -> None:
    service = sql_backend.service
    service.post(capture("c1"))
    with pytest.raises(UnbalancedTransaction):
        service.post(build_transaction(
            idempotency_key="bad", kind="capture", reference="s", occurred_at=AT,
            entries=[Entry.debit(acc.bank(), eur("1")), Entry.credit(acc.bank(), eur("2"))]))
    assert service.entry_count() == 5 and service.verify().ok


def test_trial_balance_sums_to_zero_per_currency(sql_backend: SqlBackend) -> None:
    service = sql_backend.service
    service.post(capture("c1"))
    service.post(p.wallet_topup(p.Meta("t1", "pay-1", AT), "stripe", "drv-1",
                                Money.of("5000", "JPY")))
    service.post(p.provider_fee(p.Meta("f1", "pay-1", AT), "stripe", eur("0.35")))
    trial = service.trial_balance()
    assert trial.balanced
    assert dict(trial.totals) == {"EUR": 0, "JPY": 0}
    balance = {(x.account, x.currency): x.balance for x in trial.lines}
    assert balance[(acc.provider_clearing("stripe"), EUR)] == eur("11.55").amount
    assert balance[(acc.revenue("op-1"), EUR)] == eur("-10").amount
    assert balance[(acc.wallet("drv-1"), "JPY")] == -5000
    assert balance[(acc.authorizations("stripe"), EUR)] == -50


def test_reverse_posts_a_correction(sql_backend: SqlBackend) -> None:
    service = sql_backend.service
    original = service.post(capture("c1"))
    undo = service.reverse(original.id, occurred_at=AT + timedelta(hours=1))
    assert undo.kind is TransactionKind.REVERSAL and undo.reverses == original.id
    assert service.reverse(original.id, occurred_at=AT + timedelta(hours=2)) == undo
    assert all(line.balance == 0 for line in service.trial_balance().lines)
    with pytest.raises(UnknownTransaction, match="transaction_id"):
        service.reverse("nope", occurred_at=AT)


def test_close_day_is_idempotent_and_closes_the_day(sql_backend: SqlBackend) -> None:
    service = sql_backend.service
    service.post(capture("c1"))
    service.post(capture("c2", AT + timedelta(hours=3)))
    service.post(capture("next", AT + timedelta(days=1)))
    root = service.close_day(date(2025, 3, 1))
    assert root.entry_count == 10
    assert root.root == merkle_root(e.hash for e in sql_backend.stored()[:10])
    assert service.close_day(date(2025, 3, 1)) == root
    with pytest.raises(DayClosed, match="2025-03-01"):
        service.post(capture("late", AT + timedelta(hours=10)))
    assert service.post(capture("c1")).idempotency_key == "c1"  # replays still answer
    assert service.close_day(date(2025, 2, 1)).entry_count == 0
    assert service.verify().days_checked == 2


def test_receipt_proofs_check_against_the_published_root(sql_backend: SqlBackend) -> None:
    service = sql_backend.service
    for i in range(5):
        service.post(capture(f"c{i}", AT + timedelta(minutes=i)))
    target = service.post(capture("mine", AT + timedelta(hours=1)))
    with pytest.raises(Exception, match="not closed"):
        service.proofs(target.id)
    published = service.close_day(date(2025, 3, 1)).root
    proofs = service.proofs(target.id)
    assert [proof.index for proof in proofs] == [25, 26, 27, 28, 29]
    assert all(check_proof(proof.to_json(), published) for proof in proofs)
    with pytest.raises(UnknownTransaction):
        service.proofs("nope")


def test_the_database_refuses_updates_and_deletes(sql_backend: SqlBackend) -> None:
    sql_backend.service.post(capture("c1"))
    for statement in ("UPDATE ledger_entries SET amount = '1' WHERE seq = 1",
                      "DELETE FROM ledger_entries WHERE seq = 5",
                      "UPDATE ledger_transactions SET kind = 'refund'"):
        with sql_backend.db.engine.connect() as conn, pytest.raises(DBAPIError,
                                                                    match="append-only"):
            conn.execute(text(statement))
    assert sql_backend.service.verify().ok


def test_concurrent_writers_do_not_fork_the_chain(sql_backend: SqlBackend) -> None:
    service = sql_backend.service
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            for i in range(15):
                service.post(capture(f"{name}-{i}", AT + timedelta(seconds=i)))
                service.post(capture(f"shared-{i}", AT))  # both threads race on one key
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("a", "b", "c")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    report = service.verify()
    assert report.ok, report.problem
    assert (report.entries, report.transactions) == (5 * (3 * 15 + 15), 3 * 15 + 15)


def test_memory_backend_behaves_the_same(memory_backend: MemoryBackend) -> None:
    service: LedgerService = memory_backend.service
    first = service.post(capture("c1"))
    assert service.post(capture("c1")) == first
    service.close_day(date(2025, 3, 1))
    with pytest.raises(DayClosed):
        service.post(capture("c2"))
    assert service.verify().ok and service.trial_balance().balanced
