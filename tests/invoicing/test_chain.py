"""Issued documents are tamper-evident (SQLite and PostgreSQL): the append-only triggers refuse
changes, and an attacker with database access who lifts them is caught by the chain check,
which names every changed, deleted or reordered document (`evbill invoice verify`, and
`evbill ledger verify` beside the ledger)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Connection, select, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from evbill.cli import app
from evbill.invoicing.chain import content_digest, link_hash
from evbill.invoicing.chain_store import (
    close_documents_day,
    document_roots,
    verify_stored_documents,
)
from evbill.invoicing.chain_tables import (
    CHILD_TABLES,
    ChainStartRow,
    append_only_ddl,
    drop_append_only_ddl,
)
from evbill.invoicing.seed import SeedPlan, seed_month
from evbill.invoicing.service import InvoicingService
from evbill.invoicing.settings import InvoicingSettings
from evbill.payments.tables import PaymentRefundRow
from evbill.store.database import Database

NOW = datetime(2026, 11, 1, 5, 0, tzinfo=UTC)
DAY = date(2026, 11, 1)
SETTINGS = InvoicingSettings(issuer_name="Voltway Charging GmbH", issuer_vat_id="DE123456789",
                             issuer_iban="DE02120300000000202051")  # fmt: skip
TABLES = ("invoice_documents", *CHILD_TABLES)
RECEIPTS = [f"RCT-2026-{n:06d}" for n in range(1, 6)]


@pytest.fixture
def issued(db: Database) -> Database:
    """Five card receipts and a credit note on the first, the day's root closed."""
    with db.sessions() as s:
        if s.get(ChainStartRow, 1) is None:  # the PostgreSQL fixture empties every table
            s.add(ChainStartRow(id=1, first_document_id=1))
        seed_month(s, SeedPlan(accounts=2, sessions_per_account=3, method="card"), now=NOW)
        s.commit()
    service = InvoicingService(db, SETTINGS)
    for n in range(1, 6):
        service.issue_receipt(f"CDR-{n:09d}", now=NOW)
    with db.sessions() as s:
        s.add(PaymentRefundRow(id="rf-1", idempotency_key="k1", charge_id="ch-1",
                               amount=Decimal("2.00"), currency="EUR", status="succeeded",
                               reason="EVSE fault", actor="ops", created_at=NOW))
        s.commit()
    assert service.issue_credit_note("rf-1", now=NOW).number == "CRN-2026-000001"
    close_documents_day(db, DAY)
    return db


@contextmanager
def attacker(db: Database) -> Iterator[Connection]:
    """A connection with the append-only triggers lifted, as someone with database access."""
    with db.engine.connect() as conn:
        conn.begin()
        if db.backend == "postgresql":
            for table in TABLES:
                conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        else:
            for statement in drop_append_only_ddl(db.backend):
                conn.execute(text(statement))
        yield conn
        if db.backend == "postgresql":
            for table in TABLES:
                conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
        else:
            for statement in append_only_ddl(db.backend):
                conn.execute(text(statement))
        conn.commit()


def _id(conn: Connection, number: str) -> int:
    return int(conn.execute(text("SELECT id FROM invoice_documents WHERE number = :n"),
                            {"n": number}).scalar_one())


def _problems(db: Database) -> list[str]:
    return [str(p) for p in verify_stored_documents(db).problems]


def _cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_a_clean_world_verifies(issued: Database) -> None:
    report = verify_stored_documents(issued)
    assert report.ok, report.problems
    assert (report.documents, report.series, report.days_checked) == (6, 2, 1)
    url = issued.engine.url.render_as_string(hide_password=False)
    code, out, _ = _cli("invoice", "verify", "--database", url)
    assert code == 0 and "documents intact: 6 documents in 2 series, 1 daily roots" in out
    code, out, _ = _cli("ledger", "verify", "--database", url)
    assert code == 0 and "documents intact: 6 documents" in out
    code, out, err = _cli("invoice", "show", "RCT-2026-000002", "--database", url)
    assert code == 0 and "FAILED" not in err
    code, out, _ = _cli("ledger", "close-day", "2026-11-01", "--database", url)
    assert code == 0
    with issued.read_sessions() as s:
        [root] = document_roots(s)
    assert json.loads(out)["documents"] == {"count": 6, "root": root.root}


@pytest.mark.parametrize("statement", [
    "UPDATE invoice_documents SET total_gross = 1 WHERE number = 'RCT-2026-000002'",
    "DELETE FROM invoice_documents WHERE number = 'CRN-2026-000001'",
    "UPDATE invoice_lines SET net = 0",
    "DELETE FROM invoice_vat",
    "DELETE FROM invoice_sessions",
    "UPDATE invoice_chain SET hash = prev_hash",
    "DELETE FROM invoice_chain",
    "UPDATE invoice_daily_roots SET root = ''",
    "DELETE FROM invoice_chain_start",
])
def test_issued_rows_are_append_only(issued: Database, statement: str) -> None:
    with issued.engine.connect() as conn, pytest.raises(DBAPIError, match="append-only"):
        conn.execute(text(statement))


def test_the_pdf_is_written_once_and_never_changed(issued: Database) -> None:
    service = InvoicingService(issued, SETTINGS)
    service.store_pdf("RCT-2026-000002", b"%PDF-1 first")
    with issued.engine.connect() as conn, pytest.raises(DBAPIError, match="append-only"):
        conn.execute(text("UPDATE invoice_documents SET pdf = :p "
                          "WHERE number = 'RCT-2026-000002'"), {"p": b"%PDF-1 forged"})
    with issued.engine.connect() as conn, pytest.raises(DBAPIError, match="append-only"):
        conn.execute(text("UPDATE invoice_documents SET pdf = :p, total_gross = 1 "
                          "WHERE number = 'RCT-2026-000003'"), {"p": b"%PDF-1"})
    assert verify_stored_documents(issued).ok


@pytest.mark.parametrize(("statement", "number"), [
    ("UPDATE invoice_documents SET total_gross = total_gross + 100 WHERE number = :n",
     "RCT-2026-000003"),
    ("UPDATE invoice_documents SET issue_date = '2026-10-01' WHERE number = :n",
     "RCT-2026-000002"),
    ("UPDATE invoice_documents SET customer = :c WHERE number = :n", "RCT-2026-000004"),
    ("UPDATE invoice_lines SET net = net - 1 WHERE document_id = "
     "(SELECT id FROM invoice_documents WHERE number = :n) AND position = 1", "RCT-2026-000005"),
    ("UPDATE invoice_vat SET vat = vat + 1 WHERE document_id = "
     "(SELECT id FROM invoice_documents WHERE number = :n)", "CRN-2026-000001"),
    ("UPDATE invoice_sessions SET energy_kwh = 1 WHERE document_id = "
     "(SELECT id FROM invoice_documents WHERE number = :n)", "RCT-2026-000001"),
])
def test_a_changed_document_is_named(issued: Database, statement: str, number: str) -> None:
    customer = '{"name": "Somebody Else", "country": "DE"}'
    with attacker(issued) as conn:
        conn.execute(text(statement), {"n": number, "c": customer})
    problems = _problems(issued)
    assert any(p.startswith(f"document {number}: its content") for p in problems), problems
    assert any(p.startswith("day 2026-11-01") for p in problems), problems
    url = issued.engine.url.render_as_string(hide_password=False)
    code, _, err = _cli("invoice", "verify", "--database", url)
    assert code == 1 and f"document {number}: its content" in err
    code, _, err = _cli("ledger", "verify", "--database", url)
    assert code == 1 and number in err
    code, out, err = _cli("invoice", "show", number, "--database", url)
    assert code != 0 and f"verification FAILED: document {number}: its content was changed" in err
    if "total_gross" in statement:  # still readable: shown, and flagged
        assert code == 1 and f"number: {number}" in out


def _delete(conn: Connection, number: str) -> None:
    doc = _id(conn, number)
    for table in ("invoice_lines", "invoice_sessions", "invoice_vat", "invoice_chain"):
        column = "document_id"
        conn.execute(text(f"DELETE FROM {table} WHERE {column} = :d"), {"d": doc})
    conn.execute(text("DELETE FROM invoice_documents WHERE id = :d"), {"d": doc})


def test_a_deleted_document_is_named(issued: Database) -> None:
    with attacker(issued) as conn:
        _delete(conn, "RCT-2026-000003")
    problems = _problems(issued)
    assert any(p.startswith("document RCT-2026-000004:") and "RCT-2026-000003 was deleted" in p
               for p in problems), problems
    assert any("no document at seq 3" in p for p in problems)


def test_a_deleted_last_document_is_found_by_the_series_head(issued: Database) -> None:
    with attacker(issued) as conn:
        _delete(conn, "RCT-2026-000005")
    problems = _problems(issued)
    assert any(p.startswith("series ") and "seq 5..5 deleted" in p and "RCT-2026-000004" in p
               for p in problems), problems
    assert any(p.startswith("day 2026-11-01") for p in problems)


def test_a_document_row_deleted_without_its_link_is_named(issued: Database) -> None:
    if issued.backend == "sqlite":  # foreign keys can only be switched off outside a transaction
        path = issued.engine.url.database
        assert path is not None
        raw = sqlite3.connect(path, isolation_level=None)
        raw.execute("PRAGMA foreign_keys = OFF")
        for statement in drop_append_only_ddl("sqlite"):
            raw.execute(statement)
        raw.execute("DELETE FROM invoice_documents WHERE number = 'RCT-2026-000002'")
        for statement in append_only_ddl("sqlite"):
            raw.execute(statement)
        raw.close()
    else:
        with attacker(issued) as conn:  # the link's foreign key is a system trigger: drop it
            conn.execute(text("ALTER TABLE invoice_chain DROP CONSTRAINT "
                              "fk_invoice_chain_document_id_invoice_documents"))
            for table in ("invoice_lines", "invoice_sessions", "invoice_vat"):
                conn.execute(text(f"DELETE FROM {table} WHERE document_id = :d"),
                             {"d": _id(conn, "RCT-2026-000002")})
            conn.execute(text("DELETE FROM invoice_documents WHERE number = 'RCT-2026-000002'"))
    problems = _problems(issued)
    assert any(p.startswith("document RCT-2026-000002: was deleted") for p in problems), problems


def test_reordered_documents_are_named(issued: Database) -> None:
    """Two receipts swap places (number and seq), as if one had been issued before the other."""
    with attacker(issued) as conn:
        a, b = _id(conn, "RCT-2026-000002"), _id(conn, "RCT-2026-000004")
        swap = "UPDATE invoice_documents SET number = :n, seq = :q WHERE id = :d"
        conn.execute(text(swap), {"n": "tmp", "q": 0, "d": a})
        conn.execute(text(swap), {"n": "RCT-2026-000002", "q": 2, "d": b})
        conn.execute(text(swap), {"n": "RCT-2026-000004", "q": 4, "d": a})
    problems = _problems(issued)
    for number in ("RCT-2026-000002", "RCT-2026-000004"):
        assert any(p.startswith(f"document {number}:") and "renumbered or reordered" in p
                   for p in problems), problems


def _rehash(conn: Connection, number: str, prev_hash: str | None = None) -> str:
    """Recompute a document's link from its (changed) rows with evbill's own functions."""
    doc = _id(conn, number)
    row: dict[str, Any] = dict(conn.execute(text(
        "SELECT * FROM invoice_documents WHERE id = :d"), {"d": doc}).mappings().one())
    from evbill.invoicing.tables import (
        DocumentLineRow,
        DocumentRow,
        DocumentSessionRow,
        DocumentVatRow,
    )

    def rows(table: Any) -> list[Any]:
        return list(conn.execute(select(table).where(table.c.document_id == doc)).mappings())

    typed = dict(conn.execute(select(DocumentRow.__table__).where(
        DocumentRow.__table__.c.id == doc)).mappings().one())
    content = content_digest(typed, rows(DocumentSessionRow.__table__),
                             rows(DocumentLineRow.__table__), rows(DocumentVatRow.__table__))
    link = conn.execute(text("SELECT * FROM invoice_chain WHERE document_id = :d"),
                        {"d": doc}).mappings().one()
    prev = prev_hash or link["prev_hash"]
    digest = link_hash(link["series"], link["seq"], row["number"], link["day"],
                       link["prev_number"], prev, content)
    conn.execute(text("UPDATE invoice_chain SET hash = :h, prev_hash = :p WHERE document_id = :d"),
                 {"h": digest, "p": prev, "d": doc})
    return digest


def test_a_rehashed_link_still_breaks_the_chain_at_the_next_document(issued: Database) -> None:
    with attacker(issued) as conn:
        conn.execute(text("UPDATE invoice_documents SET total_gross = 1.00 WHERE number = :n"),
                     {"n": "RCT-2026-000003"})
        _rehash(conn, "RCT-2026-000003")
    problems = _problems(issued)
    assert not any(p.startswith("document RCT-2026-000003") for p in problems)
    assert any(p.startswith("document RCT-2026-000004: the chain breaks before it")
               for p in problems), problems


def test_a_whole_rewritten_series_is_caught_by_the_daily_root(issued: Database) -> None:
    with attacker(issued) as conn:
        conn.execute(text("UPDATE invoice_documents SET total_gross = 1.00 WHERE number = :n"),
                     {"n": "RCT-2026-000003"})
        digest = _rehash(conn, "RCT-2026-000003")
        for number in RECEIPTS[3:]:
            digest = _rehash(conn, number, prev_hash=digest)
    problems = _problems(issued)
    assert problems == [
        "day 2026-11-01: its documents no longer give the published root (6 documents, root "
        + problems[0].split("root ")[2]
    ], problems
