"""Billing benchmark: invoices issued per second for a postpaid month, with and without PDFs.

Seeds a month (stations, rated sessions as CDRs, postpaid payment charges) into a fresh
database, runs the monthly billing run without PDFs, then renders the PDF/A-3 Factur-X
invoices in bulk (`evbill.invoicing.pdf_batch`: a process per core, batches loaded and stored
together), and extrapolates linearly in invoices to the goal: 1,000,000 sessions over 20,000
accounts (50 sessions each). `--pdf-sample 0` renders every invoice of the run.

    .venv/bin/python bench/billing.py                       # 200 accounts x 50 sessions, SQLite
    .venv/bin/python bench/billing.py --accounts 20000 --pdf-sample 0   # the full month (hours)
    .venv/bin/python bench/billing.py --database postgresql+psycopg://root@127.0.0.1/bench
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from evbill.invoicing.billing_run import prepare_run, work
from evbill.invoicing.compose import BillingPeriod
from evbill.invoicing.pdf_batch import documents_without_pdf, render_pdfs
from evbill.invoicing.seed import SeedPlan, seed_month
from evbill.invoicing.service import InvoicingService
from evbill.store.database import Database
from evbill.store.migrate import ensure_schema

NOW = datetime(2026, 11, 1, 5, 0, tzinfo=UTC)
OCTOBER = BillingPeriod(2026, 10)
GOAL_ACCOUNTS, GOAL_SESSIONS = 20_000, 1_000_000


def _issue(url: str, worker: str) -> int:
    db = Database.open(url)
    try:
        return len(work(InvoicingService(db), OCTOBER, worker=worker, now=lambda: NOW,
                        pdf=False).issued)  # fmt: skip
    finally:
        db.dispose()


def _children_cpu() -> float:
    """CPU seconds used by finished child processes (the PDF pool)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--sessions-per-account", type=int, default=50)
    parser.add_argument("--pdf-sample", type=int, default=40,
                        help="invoices to render as PDF (0: all)")
    parser.add_argument("--workers", type=int, default=2, help="processes (issuing on PG, PDFs)")
    parser.add_argument("--database", help="SQLAlchemy URL of an EMPTY database (default: "
                        "a temporary SQLite file)")  # fmt: skip
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    url = args.database or f"sqlite+pysqlite:///{Path(tmp.name) / 'bench.sqlite3'}"
    ensure_schema(url)
    sessions = args.accounts * args.sessions_per_account
    print(f"month: {args.accounts} accounts x {args.sessions_per_account} sessions = "
          f"{sessions} sessions on {url.split(':')[0]}")

    db = Database.open(url)
    started = time.perf_counter()
    with db.sessions() as s:
        seed_month(s, SeedPlan(args.accounts, args.sessions_per_account), now=NOW)
        s.commit()
    print(f"seeded in {time.perf_counter() - started:.1f} s")
    service = InvoicingService(db)
    prepare_run(service, OCTOBER, now=NOW)

    issuing_workers = args.workers if db.backend == "postgresql" else 1
    started = time.perf_counter()
    if issuing_workers == 1:
        issued = _issue(url, "bench")
    else:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(issuing_workers, mp_context=ctx) as pool:
            issued = sum(pool.map(_issue, [url] * issuing_workers,
                                  [f"bench{k}" for k in range(issuing_workers)]))  # fmt: skip
    issue_s = time.perf_counter() - started
    per_invoice = issue_s / issued
    print(f"issued {issued} invoices ({sessions} sessions) in {issue_s:.1f} s with "
          f"{issuing_workers} worker(s): {issued / issue_s:.1f} invoices/s, "
          f"{sessions / issue_s:.0f} sessions/s (no PDF)")

    sample = issued if args.pdf_sample <= 0 else min(args.pdf_sample, issued)
    numbers = documents_without_pdf(db, limit=sample)
    cpu_before = _children_cpu()
    report = render_pdfs(url, numbers, workers=args.workers)
    cpu_per_pdf = (_children_cpu() - cpu_before) / report.rendered
    per_pdf = report.seconds / report.rendered
    print(f"rendered {report.rendered} PDF/A-3 Factur-X invoices of {args.sessions_per_account} "
          f"sessions in {report.seconds:.1f} s with {args.workers} processes: "
          f"{report.per_second:.2f} PDFs/s, {cpu_per_pdf:.2f} CPU s per PDF "
          "(process start-up included)")
    db.dispose()

    scale = GOAL_ACCOUNTS / issued
    without = per_invoice * issued * scale
    with_pdf = without + per_pdf * GOAL_ACCOUNTS
    print(f"extrapolated to {GOAL_SESSIONS:,} sessions / {GOAL_ACCOUNTS:,} accounts "
          f"(linear in invoices at {GOAL_SESSIONS // GOAL_ACCOUNTS} sessions each):")
    print(f"  without PDF: {without / 60:.1f} min ({GOAL_ACCOUNTS / without:.1f} invoices/s)")
    print(f"  with PDF:    {with_pdf / 60:.1f} min ({GOAL_ACCOUNTS / with_pdf:.1f} invoices/s); "
          "goal < 10 min")
    cpu_min = GOAL_ACCOUNTS * cpu_per_pdf / 60
    print(f"  PDFs alone at {cpu_per_pdf:.2f} CPU s each: {cpu_min:.0f} CPU min, "
          f"{cpu_min / args.workers:.0f} min on {args.workers} otherwise idle cores")
    tmp.cleanup()


if __name__ == "__main__":
    main()
