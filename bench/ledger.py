"""Ledger benchmark: journal transactions written per second, and verify speed (entries/s).

Writes go through `LedgerService.post` (one unit of work each, chain-head lock, hashes) on a
fresh SQLite file and a fresh PostgreSQL database. Verify speed is measured on a bulk-loaded
journal of --verify-entries entries (hashed by the production encoder, loaded with
executemany on SQLite and COPY on PostgreSQL), streamed back by `evbill ledger verify`'s code.

    .venv/bin/python bench/ledger.py                                # 1,000,000 entries
    .venv/bin/python bench/ledger.py --transactions 500 --verify-entries 100000
    .venv/bin/python bench/ledger.py --backends sqlite --postgres-url postgresql+psycopg://...
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

from evbill.ledger import postings as p
from evbill.ledger.hashing import GENESIS_HASH, StoredEntry, StreamHasher, canonical_time
from evbill.ledger.journal import transaction_id_for
from evbill.ledger.service import LedgerService
from evbill.ledger.store import sql_unit_of_work
from evbill.ledger.tables import ChainHeadRow, EntryRow, TransactionRow
from evbill.money import Money
from evbill.store import Database, ensure_schema

START = datetime(2025, 1, 1, tzinfo=UTC)
EUR = "EUR"
# One capture: clearing, revenue, VAT, and the consumed hold (5 entries).
TEMPLATE = (("asset:clearing:stripe", "11.9"), ("revenue:charging:op-1", "-10"),
            ("liability:vat:DE:19", "-1.9"), ("liability:authorizations:stripe", "50"),
            ("asset:authorizations:stripe", "-50"))


def post_many(service: LedgerService, count: int) -> float:
    """Post `count` captures through the service; return transactions per second."""
    started = time.perf_counter()
    for i in range(count):
        meta = p.Meta(f"bench-cap-{i}", f"sess-{i}", START + timedelta(seconds=i))
        service.post(p.capture(meta, "stripe", "op-1", Money.of("10.00", EUR),
                               [p.VatLine("DE", "19", Money.of("1.90", EUR))],
                               held=Money.of("50", EUR)))
    return count / (time.perf_counter() - started)


def synthetic_journal(entries: int) -> Iterator[tuple[dict[str, object], list[StoredEntry]]]:
    """Balanced capture transactions, chained and hashed exactly as the service would."""
    hasher, prev, seq = StreamHasher(), GENESIS_HASH, 0
    for n in range(entries // len(TEMPLATE)):
        key, reference = f"syn-{n}", f"sess-{n}"
        txn_id, at = transaction_id_for(key), canonical_time(START + timedelta(seconds=n))
        header: dict[str, object] = {
            "id": txn_id, "idempotency_key": key, "kind": "capture", "reference": reference,
            "reverses": "", "occurred_at": at, "first_seq": seq + 1,
        }
        rows = []
        for account, amount in TEMPLATE:
            seq += 1
            entry = StoredEntry(seq, txn_id, key, "capture", reference, "", at, account,
                                amount, EUR, prev, "")
            prev = hasher(entry)
            rows.append(entry._replace(hash=prev))
        yield header, rows


ENTRY_FIELDS = ("seq", "transaction_id", "account", "amount", "currency", "prev_hash", "hash")
TXN_FIELDS = ("id", "idempotency_key", "kind", "reference", "reverses", "occurred_at",
              "first_seq")


def bulk_load(url: str, entries: int) -> int:
    """Load a synthetic journal straight into the tables; return the entry count."""
    engine = create_engine(url)
    last, total = None, 0
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            raw = conn.connection.driver_connection
            with raw.cursor() as cur:  # type: ignore[union-attr]
                with cur.copy(f"COPY ledger_transactions ({', '.join(TXN_FIELDS)}) "
                              "FROM STDIN") as txn_copy:
                    entry_rows = []
                    for header, rows in synthetic_journal(entries):
                        txn_copy.write_row([header[f] for f in TXN_FIELDS])
                        entry_rows.extend(rows)
                with cur.copy(f"COPY ledger_entries ({', '.join(ENTRY_FIELDS)}) "
                              "FROM STDIN") as entry_copy:
                    for e in entry_rows:
                        entry_copy.write_row([getattr(e, f) for f in ENTRY_FIELDS])
                total, last = len(entry_rows), entry_rows[-1]
        else:
            headers, entry_rows = [], []
            for header, rows in synthetic_journal(entries):
                headers.append(header)
                entry_rows.extend(rows)
            conn.execute(insert(TransactionRow), headers)
            conn.execute(insert(EntryRow), [{f: getattr(e, f) for f in ENTRY_FIELDS}
                                            for e in entry_rows])
            total, last = len(entry_rows), entry_rows[-1]
        conn.execute(insert(ChainHeadRow).values(id=1, last_seq=last.seq, last_hash=last.hash))
    engine.dispose()
    return total


def verify_speed(url: str) -> tuple[int, float, float, bool]:
    db = Database.open(url)
    try:
        service = LedgerService(sql_unit_of_work(db))
        started, cpu = time.perf_counter(), time.process_time()
        report = service.verify()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        db.dispose()
    return report.entries, elapsed, cpu, report.ok


def run_backend(name: str, write_url: str, verify_url: str, args: argparse.Namespace) -> None:
    """Time postings on one fresh database and verify on another, bulk-loaded one."""
    ensure_schema(write_url)
    db = Database.open(write_url)
    try:
        rate = post_many(LedgerService(sql_unit_of_work(db)), args.transactions)
    finally:
        db.dispose()
    print(f"{name:10s} post:   {args.transactions} transactions (5 entries each): "
          f"{rate:,.0f} transactions/s", flush=True)
    ensure_schema(verify_url)
    started = time.perf_counter()
    loaded = bulk_load(verify_url, args.verify_entries)
    print(f"{name:10s} load:   {loaded:,} entries in {time.perf_counter() - started:.1f} s",
          flush=True)
    entries, elapsed, cpu, ok = verify_speed(verify_url)
    print(f"{name:10s} verify: {entries:,} entries in {elapsed:.2f} s = "
          f"{entries / elapsed:,.0f} entries/s, {cpu:.2f} s CPU in this process "
          f"({'intact' if ok else 'FAILED'}; load average {os.getloadavg()[0]:.1f})",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=2000, help="postings to time")
    parser.add_argument("--verify-entries", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", default=os.environ.get(
        "EVBILL_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
        help="an admin connection; scratch databases are created and dropped")
    args = parser.parse_args()
    backends = args.backends.split(",")
    if "sqlite" in backends:
        with tempfile.TemporaryDirectory() as tmp:
            run_backend("sqlite", f"sqlite+pysqlite:///{Path(tmp) / 'write.sqlite3'}",
                        f"sqlite+pysqlite:///{Path(tmp) / 'verify.sqlite3'}", args)
    if "postgresql" in backends:
        admin = create_engine(args.postgres_url, isolation_level="AUTOCOMMIT")
        names = [f"evbill_ledger_bench_{os.getpid()}_{kind}" for kind in ("write", "verify")]
        try:
            with admin.connect() as conn:
                for name in names:
                    conn.execute(text(f'CREATE DATABASE "{name}"'))
            base = make_url(args.postgres_url)
            urls = [base.set(database=n).render_as_string(hide_password=False) for n in names]
            run_backend("postgresql", urls[0], urls[1], args)
        finally:
            with admin.connect() as conn:
                for name in names:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
