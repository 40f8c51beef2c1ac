"""`evbill demo` end to end on a fresh data folder: the money path happened for real.

The command runs as a user runs it; the checks read the demo database, the files and the API
afterwards on their own (not the tour's own verdicts): the ledger, every document against the
payment it documents, the written PDF/CII/UBL files, the receipt's inclusion proof against the
day's root, and the printed logins signing in to the API started on that folder.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy import func, select
from typer.testing import CliRunner

from evbill.cli import app
from evbill.config import Settings, sqlite_url_for
from evbill.invoicing.tables import DocumentRow
from evbill.ledger.proof_check import check_proof
from evbill.ledger.service import LedgerService
from evbill.ledger.store import sql_unit_of_work
from evbill.payments.tables import (
    PaymentAuthorizationRow,
    PaymentChargeRow,
    PaymentRefundRow,
    PaymentTokenBindingRow,
)
from evbill.sim.money_world import demo_day
from evbill.sim.showcase import ADMIN_LOGIN, DEMO_TOKENS, DRIVER_LOGIN
from evbill.store.database import Database


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    data_dir = tmp_path_factory.mktemp("demo") / "data"
    result = CliRunner().invoke(app, ["demo", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    return data_dir, result.stdout


@pytest.fixture
def demo_db(demo_run: tuple[Path, str]) -> Iterator[Database]:
    db = Database.open(sqlite_url_for(demo_run[0]))
    yield db
    db.dispose()


def test_the_ledger_is_written_verified_balanced_and_its_day_closed(demo_db: Database) -> None:
    ledger = LedgerService(sql_unit_of_work(demo_db))
    assert ledger.entry_count() > 0
    report = ledger.verify()
    assert report.ok, report.problem
    assert ledger.trial_balance().balanced
    [root] = ledger.roots()
    assert root.entry_count == ledger.entry_count()  # every posting on the closed day


def test_each_payment_has_a_document_with_its_exact_total(demo_db: Database) -> None:
    with demo_db.read_sessions() as s:
        docs = list(s.scalars(select(DocumentRow)))
        charges = {c.reference: c for c in s.scalars(select(PaymentChargeRow))}
        refunds = {r.id: r for r in s.scalars(select(PaymentRefundRow))}
    kinds = Counter(d.doc_type for d in docs)
    assert kinds["RECEIPT"] >= 2 and kinds["INVOICE"] == 1 and kinds["CREDIT_NOTE"] == 1
    assert {c.method for c in charges.values()} == {"card", "wallet", "postpaid"}
    by_key = {d.source_key: d for d in docs}
    for ref, charge in charges.items():
        if charge.method != "postpaid":
            assert by_key[f"receipt:{ref}"].total_gross == charge.gross
    [invoice] = [d for d in docs if d.doc_type == "INVOICE"]
    postpaid = [c for c in charges.values() if c.method == "postpaid"]
    assert len(postpaid) >= 3 and {c.account for c in postpaid} == {invoice.account_id}
    assert invoice.total_gross == sum((c.gross for c in postpaid), Decimal(0))
    [refund] = refunds.values()
    note = by_key[f"credit:{refund.id}"]
    assert abs(note.total_gross) == refund.amount
    refunded = next(c for c in charges.values() if c.id == refund.charge_id)
    assert refunded.method == "card" and 0 < refund.amount < refunded.gross  # partial
    assert refunded.refunded == refund.amount


def test_the_card_payer_was_held_then_captured_exactly(demo_db: Database) -> None:
    with demo_db.read_sessions() as s:
        cards = list(s.scalars(select(PaymentChargeRow).where(PaymentChargeRow.method == "card")))
        holds = {h.id: h for h in s.scalars(select(PaymentAuthorizationRow))}
        bound = {b.id_token: b.mode for b in s.scalars(select(PaymentTokenBindingRow))}
    assert cards
    for charge in cards:
        hold = holds[charge.authorization_id or ""]
        assert charge.gross + (charge.released or 0) == hold.amount_held  # the rest released
    assert {bound[t] for t in DEMO_TOKENS} == {"adhoc", "wallet", "postpaid"}


def test_every_document_is_written_as_pdf_cii_and_ubl(demo_run: tuple[Path, str],
                                                      demo_db: Database) -> None:
    folder = demo_run[0] / "documents"
    with demo_db.read_sessions() as s:
        numbers = list(s.scalars(select(DocumentRow.number)))
    for number in numbers:
        pdf = (folder / f"{number}.pdf").read_bytes()
        assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
        for kind in ("cii", "ubl"):
            xml = etree.fromstring((folder / f"{number}.{kind}.xml").read_bytes())
            assert number in etree.tostring(xml).decode()


def test_the_printed_proof_checks_under_the_closed_root(demo_run: tuple[Path, str],
                                                        demo_db: Database) -> None:
    [root] = LedgerService(sql_unit_of_work(demo_db)).roots()
    [proof_file] = (demo_run[0] / "documents").glob("*.proof.json")
    proof = json.loads(proof_file.read_text())
    assert check_proof(proof, root.root)
    tampered = {**proof, "entry_hash": "0" * 64}
    assert not check_proof(tampered, root.root)


def test_the_summary_says_what_happened_and_how_to_browse_it(
        demo_run: tuple[Path, str], demo_db: Database) -> None:
    data_dir, out = demo_run
    with demo_db.read_sessions() as s:
        numbers = list(s.scalars(select(DocumentRow.number)))
        count = s.scalar(select(func.count()).select_from(DocumentRow))
    flat = " ".join(out.split())
    assert all(number in flat for number in numbers) and count == len(numbers)
    assert "`ledger verify`: intact; trial balance: balanced" in flat
    assert "under that root: OK" in flat
    assert "evbill audit: audit:" in flat and " documents, " in flat and ": 0 mismatches" in flat
    assert f"EVBILL_DATA_DIR={data_dir}" in flat and "evbill serve" in flat
    assert str(data_dir / "documents") in flat
    for email, password, _ in (DRIVER_LOGIN, ADMIN_LOGIN):
        assert email in flat and password in flat


def test_the_demo_database_passes_evbill_audit(demo_run: tuple[Path, str]) -> None:
    """`evbill audit` on the demo's database, as a finance team would run it: exit 0 with
    every session's rating, payment, document and ledger in agreement."""
    data_dir, _ = demo_run
    result = CliRunner().invoke(app, ["audit", "--database",
                                      f"sqlite+pysqlite:///{data_dir}/evbill.sqlite3"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith(": 0 mismatches")
    assert "audit: 0 sessions" not in result.stdout


def test_the_printed_logins_sign_in_to_the_api_on_the_demo_folder(
        demo_run: tuple[Path, str]) -> None:
    from evbill.api.app import create_app

    data_dir = demo_run[0]
    api = create_app(Settings(data_dir=data_dir, database_url=sqlite_url_for(data_dir)))
    with TestClient(api) as client:
        tokens = {}
        for email, password, _ in (DRIVER_LOGIN, ADMIN_LOGIN):
            reply = client.post("/api/v1/auth/token", json={"email": email,
                                                            "password": password})
            assert reply.status_code == 200, reply.text
            tokens[email] = {"Authorization": f"Bearer {reply.json()['access_token']}"}
        driver = tokens[DRIVER_LOGIN[0]]
        docs = client.get("/api/v1/me/documents", headers=driver).json()
        assert docs and {d["type"] for d in docs} == {"RECEIPT"}  # the wallet's receipts
        balance = client.get("/api/v1/me/wallet", headers=driver).json()["balance"]
        assert Decimal(str(balance["amount"])) > 0


@pytest.mark.parametrize(("today", "day"), [
    (date(2026, 12, 3), date(2026, 11, 30)),
    (date(2027, 1, 1), date(2026, 12, 31)),
    (date(2028, 3, 15), date(2028, 2, 29)),
])
def test_the_demo_day_is_the_last_day_of_the_previous_month(today: date, day: date) -> None:
    assert demo_day(today) == day
