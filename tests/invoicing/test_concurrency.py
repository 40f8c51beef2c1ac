"""Several processes issuing at once on PostgreSQL: numbers stay unique and gapless, and
billing-run workers share the items without billing any account twice."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from concurrent.futures import ProcessPoolExecutor

import pytest
from sqlalchemy import select

from evbill.invoicing.billing_run import prepare_run, run_status
from evbill.invoicing.compose import BillingPeriod
from evbill.invoicing.model import DocumentType
from evbill.invoicing.numbering import SeriesKey, find_gaps
from evbill.invoicing.seed import SeedPlan, seed_month
from evbill.invoicing.service import InvoicingService
from evbill.invoicing.tables import BillingRunItemRow, DocumentRow
from evbill.store.database import Database

from .parallel_workers import NOW, issue_receipts, run_worker

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.e2e,
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]
WORKERS = 4


def _pool() -> ProcessPoolExecutor:
    return ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context("spawn"))


def test_parallel_receipts_are_numbered_without_gap_or_duplicate(database_url: str) -> None:
    db = Database.open(database_url)
    try:
        with db.sessions() as s:
            seed_month(s, SeedPlan(accounts=3, sessions_per_account=20, method="card"), now=NOW)
            s.commit()
        references = [f"CDR-{n:09d}" for n in range(1, 61)]
        with _pool() as pool:
            parts = [references[k::WORKERS] for k in range(WORKERS)]
            results = list(pool.map(issue_receipts, [database_url] * WORKERS, parts,
                                    [3] * WORKERS))  # fmt: skip
        numbers = [number for part in results for number in part]
        key = SeriesKey("evbill", DocumentType.RECEIPT, 2026)
        assert find_gaps(key, numbers) == ([], [])
        assert sorted(numbers) == [key.format(n) for n in range(1, 61)]
        with db.read_sessions() as s:
            stored = list(s.execute(select(DocumentRow.number)).scalars())
        assert sorted(stored) == sorted(numbers)
    finally:
        db.dispose()


def test_parallel_billing_workers_share_the_run(database_url: str) -> None:
    db = Database.open(database_url)
    try:
        with db.sessions() as s:
            seed_month(s, SeedPlan(accounts=24, sessions_per_account=2), now=NOW)
            s.commit()
        service = InvoicingService(db)
        october = BillingPeriod(2026, 10)
        assert prepare_run(service, october, now=NOW) == 24
        with _pool() as pool:
            results = list(pool.map(run_worker, [database_url] * WORKERS,
                                    [f"w{k}" for k in range(WORKERS)]))  # fmt: skip
        numbers = [number for part in results for number in part]
        key = SeriesKey("evbill", DocumentType.INVOICE, 2026)
        assert sorted(numbers) == [key.format(n) for n in range(1, 25)]
        assert sum(1 for part in results if part) >= 2  # the work really was shared
        with db.read_sessions() as s:
            accounts = Counter(s.execute(select(DocumentRow.account_id)).scalars())
            workers = Counter(s.execute(select(BillingRunItemRow.worker)).scalars())
        assert len(accounts) == 24 and set(accounts.values()) == {1}
        assert sum(workers.values()) == 24
        assert run_status(service, october).done == 24
    finally:
        db.dispose()
