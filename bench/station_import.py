"""Station onboarding: `evbill stations import` of N stations, and one `evbill stations add`.

    .venv/bin/python bench/station_import.py                      # 5,000 stations, SQLite
    .venv/bin/python bench/station_import.py --stations 500       # a quick run
    .venv/bin/python bench/station_import.py --database postgresql+psycopg://root@127.0.0.1/x

A CSV of N stations is generated (each with 1-4 EVSEs of 1-2 connectors; half with a given
password, half with none, so one is generated) and imported into a freshly migrated database
twice, as `evbill stations import` does it (`read_stations` + `StationImporter.run`):

- the first run registers every station (parse, check against the registry, hash each
  password with the registry's own function, insert in batches of 250);
- the second run finds every station unchanged (the idempotent re-run).

Printed: wall-clock per phase and per station, the time spent hashing passwords (timed around
each call of the hashing function the import uses) and in
the database inserts, then the
wall-clock of one `evbill stations add` and one `evbill stations import` of a single-row
file in a fresh process (start-up and schema check included). On PostgreSQL the given
database is emptied of stations first (it must be migrated: `evbill db upgrade --url …`).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import delete

from evbill.accounts import station_import
from evbill.accounts.station_import import StationImporter, read_stations
from evbill.clock import utc_now
from evbill.store import Database
from evbill.store.migrate import ensure_schema
from evbill.store.tables import StationRow

ZONES = ("Europe/Berlin", "Europe/Paris", "Europe/Amsterdam", "Europe/Vienna", "")
POWERS = ("11", "22", "2x22", "50", "150", "2x150", "300")


def make_csv(n: int, seed: int = 1) -> str:
    rng = random.Random(seed)
    lines = ["id,password,operator,time_zone,evses,location"]
    for i in range(1, n + 1):
        password = f"pw-{rng.getrandbits(96):024x}" if i % 2 else ""
        evses = ";".join(rng.choice(POWERS) for _ in range(rng.randint(1, 4)))
        lines.append(f"BENCH-{i:06d},{password},NET{i % 7},{rng.choice(ZONES)},{evses},"
                     f"\"Street {i}, City\"")  # fmt: skip
    return "\n".join(lines) + "\n"


def _subprocess_seconds(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "evbill", *args], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=5000)
    parser.add_argument("--database", help="SQLAlchemy URL (default: a fresh SQLite file)")
    parser.add_argument("--single-runs", type=int, default=5)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="evbill-bench-import-"))
    url = args.database or f"sqlite+pysqlite:///{work / 'evbill.sqlite3'}"
    ensure_schema(url)
    db = Database.open(url)
    with db.sessions() as s, s.begin():
        s.execute(delete(StationRow).where(StationRow.id.like("BENCH-%")))
    text = make_csv(args.stations)

    hashing = 0.0
    real_hash = station_import.hash_password

    def timed_hash(password: str, *, key: bytes | None = None) -> str:  # the real one, timed
        nonlocal hashing
        start = time.perf_counter()
        try:
            return real_hash(password, key=key)
        finally:
            hashing += time.perf_counter() - start

    inserting = 0.0
    real_insert = StationImporter._insert

    def timed_insert(self: StationImporter, *args: Any) -> None:
        nonlocal inserting
        start = time.perf_counter()
        try:
            real_insert(self, *args)
        finally:
            inserting += time.perf_counter() - start

    station_import.hash_password = timed_hash  # type: ignore[assignment]
    StationImporter._insert = timed_insert  # type: ignore[method-assign]
    t0 = time.perf_counter()
    specs, errors = read_stations(text, "Europe/Berlin")
    t1 = time.perf_counter()
    first = StationImporter(db).run(specs, errors, now=utc_now())
    t2 = time.perf_counter()
    again = StationImporter(db).run(specs, errors, now=utc_now())
    t3 = time.perf_counter()
    assert not errors and len(first.added) == args.stations, first.errors[:3]
    assert len(again.unchanged) == args.stations and not again.added

    station_import.hash_password = real_hash  # type: ignore[assignment]
    StationImporter._insert = real_insert  # type: ignore[method-assign]
    hash_each = hashing / args.stations
    db.dispose()

    n = args.stations
    total = t2 - t0
    print(f"database: {url.split('://')[0]}, {n:,} stations "
          f"({sum(len(s.evses) for s in specs):,} EVSEs)")
    print(f"parse + check rows        {t1 - t0:8.3f} s")
    print(f"first import (register)   {t2 - t1:8.3f} s  ({(t2 - t1) / n * 1000:.2f} ms/station)")
    print(f"  password hashing        {hashing:8.3f} s  ({hash_each * 1000:.3f} "
          f"ms/password, {real_hash.__module__}.{real_hash.__name__})")
    print(f"  database inserts        {inserting:8.3f} s  ({inserting / n * 1000:.3f} ms/station)")
    print(f"re-run (all unchanged)    {t3 - t2:8.3f} s")
    print(f"total first import        {total:8.3f} s  ({n / total:,.0f} stations/s)")

    env = {**os.environ, "EVBILL_DATABASE_URL": url, "COLUMNS": "100"}
    adds = [_subprocess_seconds(["stations", "add", f"BENCH-ONE-{i}", "--password",
                                 "0123456789abcdef", "--tz", "Europe/Berlin"], env)
            for i in range(args.single_runs)]  # fmt: skip
    one_row = work / "one.csv"
    imports = []
    for i in range(args.single_runs):
        one_row.write_text(f"id,evses\nBENCH-CSV-{i},22\n", encoding="utf-8")
        imports.append(_subprocess_seconds(["stations", "import", str(one_row)], env))
    print(f"evbill stations add (one, fresh process)      median {statistics.median(adds):.3f} s")
    print(f"evbill stations import (one row, fresh proc.) median "
          f"{statistics.median(imports):.3f} s")
    if args.database:
        cleanup = Database.open(url)
        with cleanup.sessions() as s, s.begin():
            s.execute(delete(StationRow).where(StationRow.id.like("BENCH-%")))
        cleanup.dispose()


if __name__ == "__main__":
    main()
