"""Bulk data for bench/api.py: stations, drivers with one card each, N sessions with CDRs and a
running session per benched driver, written with COPY (PostgreSQL) or executemany (SQLite).

Rows are written in the stored form the column types produce (UTC timestamps, decimal text on
SQLite), bypassing the ORM so a million sessions load in seconds.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import Engine

from evbill.accounts.crypto import FieldCipher
from evbill.sessions.tariff_book import TariffBook
from evbill.store.database import Database

T_END = datetime(2026, 11, 1, tzinfo=UTC)
SPAN_S = 2 * 365 * 24 * 3600
STATIONS = 200
TARIFF = {"country_code": "DE", "party_id": "EVB", "id": "BENCH", "currency": "EUR",
          "last_updated": "2024-01-01T00:00:00Z",
          "elements": [{"price_components": [
              {"type": "ENERGY", "price": 0.30, "vat": 19.0, "step_size": 1}]}]}

SESSION_COLS = ("id", "station_id", "evse_id", "connector_id", "transaction_id", "state",
                "id_token", "id_token_type", "authorization_status", "started_at", "stopped_at",
                "meter_start_wh", "meter_stop_wh", "energy_wh", "energy_source", "time_zone",
                "start_received", "stop_received", "flags", "tariff_pk", "created_at",
                "updated_at")
CDR_COLS = ("id", "session_id", "currency", "total_cost_excl_vat", "total_cost_incl_vat",
            "total_energy_wh", "energy_source", "ocpi_json", "tariff_pk", "revision",
            "created_at", "updated_at")
T = TypeVar("T")
SAMPLE_COLS = ("session_id", "station_id", "evse_id", "at", "context", "energy_wh", "power_w",
               "charging", "received_at")


def _shown(rows: Iterator[T], progress: Progress, what: str, total: int) -> Iterator[T]:
    """`rows`, advancing a progress bar every 10,000 of them."""
    task = progress.add_task(f"loading {what}", total=total)
    for i, row in enumerate(rows, 1):
        if i % 10_000 == 0:
            progress.update(task, completed=i)
        yield row
    progress.update(task, completed=total)


def card(driver: int) -> str:
    return f"B{driver:011X}"


def user_id(driver: int) -> str:
    return f"usr_b{driver:011d}"


class Writer:
    """Bulk rows into one backend, in the stored representation of each column type."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.pg = engine.dialect.name == "postgresql"

    def value(self, v: Any) -> Any:
        if self.pg or v is None:
            return v
        if isinstance(v, datetime):  # SQLite: naive UTC text, as UTCDateTime stores it
            naive = v.astimezone(UTC).replace(tzinfo=None)
            return naive.isoformat(sep=" ", timespec="microseconds")
        if isinstance(v, Decimal):
            return format(v, "f")
        if isinstance(v, bool):
            return int(v)
        return v

    def write(self, table: str, cols: Sequence[str], rows: Iterator[tuple[Any, ...]],
              batch: int = 50_000) -> int:  # fmt: skip
        raw = self.engine.raw_connection()
        count = 0
        try:
            cur = raw.cursor()
            if self.pg:
                with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                    for row in rows:
                        copy.write_row(row)
                        count += 1
            else:
                sql = (f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
                       f"({', '.join('?' for _ in cols)})")
                cur.execute("BEGIN")
                chunk: list[tuple[Any, ...]] = []
                for row in rows:
                    chunk.append(tuple(self.value(v) for v in row))
                    if len(chunk) >= batch:
                        cur.executemany(sql, chunk)
                        count, chunk = count + len(chunk), []
                cur.executemany(sql, chunk)
                count += len(chunk)
                cur.execute("COMMIT")
            raw.commit()
        finally:
            raw.close()
        return count


def load(db: Database, cipher: FieldCipher, *, sessions: int, drivers: int, live: int,
         seed: int = 7) -> dict[str, Any]:  # fmt: skip
    """Fill the database; returns what the clients need (driver ids, live session ids)."""
    rng = random.Random(seed)
    w = Writer(db.engine)
    created = datetime(2024, 1, 1, tzinfo=UTC)
    w.write("stations", ("id", "time_zone", "operator", "auto_registered", "connected",
                         "created_at"),
            ((f"BS-{i:04d}", "Europe/Berlin", "op-bench", False, True, created)
             for i in range(STATIONS)))  # fmt: skip
    w.write("evses", ("station_id", "evse_id"), ((f"BS-{i:04d}", e) for i in range(STATIONS)
                                                 for e in (1, 2)))  # fmt: skip
    tariff_pk = TariffBook(db).add(json.dumps(TARIFF), now=created, default=True).pk
    w.write("id_tokens", ("value", "type", "status", "account", "created_at"),
            ((card(d), "ISO14443", "Accepted", f"driver.{user_id(d)}", created)
             for d in range(drivers)))  # fmt: skip
    email = cipher.encrypt("bench@example.org")
    w.write("api_users", ("id", "role", "email_lookup", "email_enc", "name_enc",
                          "password_hash", "token_account", "disabled", "created_at"),
            ((user_id(d), "driver", cipher.lookup(f"d{d}@bench"), email, email, "-",
              f"driver.{user_id(d)}", False, created) for d in range(drivers)))  # fmt: skip

    def session_rows() -> Iterator[tuple[Any, ...]]:
        for sid in range(1, sessions + 1):
            driver = rng.randrange(drivers)
            start = T_END - timedelta(seconds=rng.randrange(SPAN_S))
            wh = Decimal(rng.randrange(2_000, 60_000))
            yield (sid, f"BS-{rng.randrange(STATIONS):04d}", 1, 1, f"t{sid}", "rated",
                   card(driver), "ISO14443", "Accepted", start, start + timedelta(hours=1),
                   Decimal(0), wh, wh, "meter", "Europe/Berlin", True, True, "[]", tariff_pk,
                   start, start)  # fmt: skip

    def cdr_rows() -> Iterator[tuple[Any, ...]]:
        for sid in range(1, sessions + 1):
            excl = Decimal(sid % 5000) / 100
            yield (f"EVB{sid:010d}", sid, "EUR", excl, excl * Decimal("1.19"),
                   Decimal(20000), "meter", "{}", tariff_pk, 1, created, created)  # fmt: skip

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), transient=True) as progress:  # fmt: skip
        w.write("sessions", SESSION_COLS, _shown(session_rows(), progress, "sessions", sessions))
        w.write("cdrs", CDR_COLS, _shown(cdr_rows(), progress, "CDRs", sessions))
    now = datetime.now(UTC)
    live_ids = []

    def live_rows() -> Iterator[tuple[Any, ...]]:
        for i in range(live):
            sid = sessions + 1 + i
            live_ids.append((i, sid))
            yield (sid, f"BS-{i % STATIONS:04d}", 2, 1, f"live{sid}", "charging", card(i),
                   "ISO14443", "Accepted", now - timedelta(minutes=40), None, Decimal(0), None,
                   Decimal(0), "meter", "Europe/Berlin", True, False, "[]", None, now, now)

    w.write("sessions", SESSION_COLS, live_rows())
    w.write("meter_samples", SAMPLE_COLS,
            ((sid, f"BS-{i % STATIONS:04d}", 2, now - timedelta(minutes=40 - 2 * k),
              "Sample.Periodic", Decimal(k * 366), Decimal(11000), True, now)
             for i, sid in live_ids for k in range(20)))  # fmt: skip
    if w.pg:
        with db.engine.begin() as conn:
            conn.exec_driver_sql("SELECT setval('sessions_id_seq', (SELECT max(id) FROM sessions))")
            conn.exec_driver_sql("ANALYZE")
    else:
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    return {"drivers": drivers, "live": dict(live_ids)}
