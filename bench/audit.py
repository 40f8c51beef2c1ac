"""Audit benchmark: seed a month of rated, charged, booked and invoiced sessions, then run
`evbill audit`'s walk over it with a progress bar and print the counts and the time.

Seeds postpaid sessions (stations, CDRs, payment charges: `evbill.invoicing.seed`), books each
charge in the ledger as the payments side does (`postings.postpaid_charge`, chained in bulk),
issues the month's invoices (the billing run, no PDF), audits, and verifies the documents'
hash chain (`evbill invoice verify`).

    .venv/bin/python bench/audit.py                          # 200 x 50 = 10,000 sessions, SQLite
    .venv/bin/python bench/audit.py --accounts 20 --sessions-per-account 10   # a quick look
    .venv/bin/python bench/audit.py --database postgresql+psycopg://root@127.0.0.1/bench
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

# The month is invoiced with SEPA credit transfer, which needs the issuer's IBAN (a test one
# here, as in the test suite); a configured one is kept.
os.environ.setdefault("EVBILL_INVOICE_ISSUER_IBAN", "DE89370400440532013000")

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import select

from evbill.audit.reader import AuditPeriod, audit_counts, run_audit
from evbill.invoicing.billing_run import prepare_run, work
from evbill.invoicing.chain_store import verify_stored_documents
from evbill.invoicing.compose import BillingPeriod
from evbill.invoicing.seed import SeedPlan, seed_month
from evbill.invoicing.service import InvoicingService
from evbill.ledger import postings
from evbill.ledger.hashing import chain_transaction, head_after
from evbill.ledger.store import sql_unit_of_work
from evbill.money import Money
from evbill.payments.tables import PaymentChargeRow
from evbill.store.database import Database
from evbill.store.migrate import ensure_schema

NOW = datetime(2026, 11, 1, 5, 0, tzinfo=UTC)
OCTOBER = BillingPeriod(2026, 10)
console = Console(stderr=True)


def book(db: Database) -> int:
    """Post every charge's postpaid posting, chained after the head in one transaction."""
    with db.read_sessions() as s:
        charges = list(s.scalars(select(PaymentChargeRow).order_by(PaymentChargeRow.id)))
    with sql_unit_of_work(db)() as uow:
        head = uow.repo.lock_head()
        for c in charges:
            vat = [postings.VatLine(v["country"], v["rate"], Money(Decimal(v["amount"]),
                                                                   c.currency))
                   for v in c.vat]  # fmt: skip
            txn = postings.postpaid_charge(
                postings.Meta(f"payments:postpaid:{c.reference}", c.reference, c.created_at),
                c.account, c.operator, Money(c.net, c.currency), vat)
            entries = chain_transaction(txn, head)
            uow.repo.append(entries, head)
            head = head_after(entries, head)
        uow.commit()
    return len(charges)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--sessions-per-account", type=int, default=50)
    parser.add_argument("--database", help="SQLAlchemy URL of an EMPTY database (default: "
                        "a temporary SQLite file)")  # fmt: skip
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    url = args.database or f"sqlite+pysqlite:///{Path(tmp.name) / 'audit.sqlite3'}"
    ensure_schema(url)
    db = Database.open(url)
    sessions = args.accounts * args.sessions_per_account
    print(f"month: {args.accounts} accounts x {args.sessions_per_account} sessions = "
          f"{sessions} sessions on {db.backend}")

    started = time.perf_counter()
    with db.sessions() as s:
        seed_month(s, SeedPlan(args.accounts, args.sessions_per_account), now=NOW)
        s.commit()
    seeded = time.perf_counter()
    booked = book(db)
    booked_at = time.perf_counter()
    service = InvoicingService(db)
    prepare_run(service, OCTOBER, now=NOW)
    issued = len(work(service, OCTOBER, worker="bench", now=lambda: NOW, pdf=False).issued)
    billed = time.perf_counter()
    print(f"seeded in {seeded - started:.1f} s, booked {booked} ledger transactions in "
          f"{booked_at - seeded:.1f} s, issued {issued} invoices in {billed - booked_at:.1f} s")

    columns = (TextColumn("{task.description:>9}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    started = time.perf_counter()
    with Progress(*columns, console=console) as bar:
        tasks = {stage: bar.add_task(stage, total=total) for stage, total in audit_counts(db)}
        report = run_audit(db, AuditPeriod(2026, 10),
                           progress=lambda stage, n: bar.advance(tasks[stage], n))
    seconds = time.perf_counter() - started
    for mismatch in report.mismatches[:20]:
        print(f"mismatch: {mismatch}")
    print(report.summary())
    print(f"audited in {seconds:.1f} s ({report.sessions / seconds:,.0f} sessions/s)")
    started = time.perf_counter()
    documents = verify_stored_documents(db)
    print(f"{documents.summary() if documents.ok else documents.problems[0]} "
          f"(chain verified in {time.perf_counter() - started:.1f} s)")
    db.dispose()
    tmp.cleanup()


if __name__ == "__main__":
    main()
