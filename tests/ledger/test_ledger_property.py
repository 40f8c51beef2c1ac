"""Property: any run of postings balances and verifies; any single tampering makes verify fail.

Runs on the in-memory repository and, through `database_url`, on SQLite and PostgreSQL, with
the tampering done directly on the stored rows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evbill.ledger import accounts as acc
from evbill.ledger import postings as p
from evbill.ledger.errors import DayClosed, UnbalancedTransaction
from evbill.ledger.journal import Entry, Transaction, build_transaction
from evbill.ledger.service import LedgerService
from evbill.money import Money, minor_unit

from .ledger_support import Backend, MemoryBackend, SqlBackend

START = datetime(2025, 3, 1, 6, 0, tzinfo=UTC)
FLOWS = ["capture", "release", "topup", "spend", "postpaid", "payment", "refund", "fee",
         "payout", "unbalanced", "duplicate", "reverse", "close", "late"]
STEP = st.tuples(st.sampled_from(FLOWS), st.integers(1, 100_000), st.integers(0, 900),
                 st.sampled_from(["EUR", "CHF", "JPY"]))
EDITABLE = ["amount", "account", "currency", "occurred_at", "hash", "prev_hash"]


def money(units: int, currency: str) -> Money:
    return Money(Decimal(units).scaleb(-minor_unit(currency)), currency)


def _flow(name: str, meta: p.Meta, m: Money) -> Transaction:
    vat = [p.VatLine("DE", "19", money(max(1, int(m.amount.scaleb(minor_unit(m.currency)))
                                                // 7), m.currency))]
    if name == "capture":
        return p.capture(meta, "stripe", "op-1", m, vat, held=m + m)
    if name == "release":
        return p.release_hold(meta, "stripe", m)
    if name == "topup":
        return p.wallet_topup(meta, "sandbox", "drv-1", m)
    if name == "spend":
        return p.wallet_spend(meta, "drv-1", "op-2", m, vat)
    if name == "postpaid":
        return p.postpaid_charge(meta, "acme", "op-1", m, vat)
    if name == "payment":
        return p.postpaid_payment(meta, "sandbox", "acme", m)
    if name == "refund":
        return p.refund(meta, "op-1", m, vat, to_account=acc.provider_clearing("stripe"))
    if name == "fee":
        return p.provider_fee(meta, "stripe", m)
    return p.payout(meta, "stripe", m)


def run_steps(service: LedgerService, steps: list[tuple[str, int, int, str]]) -> int:
    """Apply the steps, checking each outcome; return how many transactions were written."""
    at, written, posted, closed = START, 0, [], []
    for i, (name, units, minutes, currency) in enumerate(steps):
        at += timedelta(minutes=minutes)
        meta, m = p.Meta(f"k{i}", f"ref-{i}", at), money(units, currency)
        if name == "unbalanced":
            with pytest.raises(UnbalancedTransaction):
                service.post(build_transaction(
                    idempotency_key=meta.key, kind="capture", reference="x", occurred_at=at,
                    entries=[Entry.debit(acc.bank(), m), Entry.credit(acc.bank(), m + m)]))
        elif name == "duplicate" and posted:
            assert service.post(posted[units % len(posted)]) == posted[units % len(posted)]
        elif name == "reverse" and posted:
            posted.append(service.reverse(posted[units % len(posted)].id, occurred_at=at,
                                          idempotency_key=f"rev-{i}"))
            written += 1
        elif name == "close":
            day = (at - timedelta(days=1)).date()
            if not closed or day > closed[-1]:
                service.close_day(day)
                closed.append(day)
        elif name == "late" and closed:
            late = datetime.combine(closed[-1], datetime.min.time(), UTC) + timedelta(hours=1)
            with pytest.raises(DayClosed):
                service.post(_flow("fee", p.Meta(meta.key, "late", late), m))
        elif name not in ("duplicate", "reverse", "late"):
            posted.append(service.post(_flow(name, meta, m)))
            written += 1
    return written


def _flip(value: str, position: int) -> str:
    i = position % len(value)
    replacement = "0" if value[i] != "0" else "1"
    return value[:i] + replacement + value[i + 1:]


def check_run_then_tamper(backend: Backend, steps: list[tuple[str, int, int, str]],
                          data: st.DataObject) -> None:
    backend.reset()
    service = backend.service
    written = run_steps(service, [("topup", 100, 0, "EUR"), *steps])
    report = service.verify()
    assert report.ok, report.problem
    assert report.transactions == written
    assert service.trial_balance().balanced

    stored = backend.stored()
    count, roots = len(stored), service.roots()
    tamper = data.draw(st.sampled_from(["edit", "delete", "insert", "swap"]
                                       + (["root"] if roots else [])), label="tamper")
    seq = data.draw(st.integers(1, count), label="seq")
    if tamper == "edit":
        field = data.draw(st.sampled_from(EDITABLE), label="field")
        value = getattr(stored[seq - 1], field)
        backend.edit(seq, field, _flip(value, data.draw(st.integers(0, 99), label="byte")))
    elif tamper == "delete":
        backend.delete(seq)
    elif tamper == "insert":
        backend.insert_copy(seq, data.draw(st.integers(1, count + 1), label="at"))
    elif tamper == "swap":
        other = data.draw(st.integers(1, count).filter(lambda s: s != seq), label="other")
        backend.swap(seq, other)
    else:
        root = data.draw(st.sampled_from(roots), label="root")
        backend.edit_root(root.day, _flip(root.root, seq))
    broken = service.verify()
    assert not broken.ok, f"{tamper} at {seq} went unnoticed"


FAST = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
DB = settings(max_examples=60, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow])


@FAST
@given(steps=st.lists(STEP, max_size=25), data=st.data())
def test_memory_ledger_balances_verifies_and_detects_tampering(
    memory_backend: MemoryBackend, steps: list[tuple[str, int, int, str]], data: st.DataObject
) -> None:
    check_run_then_tamper(memory_backend, steps, data)


@DB
@given(steps=st.lists(STEP, max_size=20), data=st.data())
def test_database_ledger_balances_verifies_and_detects_tampering(
    sql_backend: SqlBackend, steps: list[tuple[str, int, int, str]], data: st.DataObject
) -> None:
    check_run_then_tamper(sql_backend, steps, data)
