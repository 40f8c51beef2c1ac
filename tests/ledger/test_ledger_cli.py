"""`evbill ledger …` against a real database: verify, balances, close-day, proof."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

from evbill.cli import app
from evbill.ledger import postings as p
from evbill.ledger.proof_check import check_proof
from evbill.money import Money

from .ledger_support import SqlBackend

AT = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def _fill(backend: SqlBackend) -> str:
    last = ""
    for i in range(4):
        meta = p.Meta(f"cap-{i}", f"sess-{i}", AT + timedelta(minutes=i))
        last = backend.service.post(p.capture(
            meta, "stripe", "op-1", Money.of("10.00", "EUR"),
            [p.VatLine("DE", "19", Money.of("1.90", "EUR"))])).id
    return last


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["ledger", *args])
    return result.exit_code, result.stdout, result.stderr


def test_verify_passes_then_names_the_tampered_entry(sql_backend: SqlBackend,
                                                     database_url: str) -> None:
    _fill(sql_backend)
    code, out, _ = _run("verify", "--database", database_url)
    assert code == 0 and "ledger intact: 12 entries, 4 transactions" in out
    sql_backend.edit(7, "amount", "-10.01")
    code, _, err = _run("verify", "--database", database_url)
    assert code == 1
    assert "entry 7" in err and "hash does not match" in err


def test_balances_prints_a_table_that_sums_to_zero(sql_backend: SqlBackend,
                                                   database_url: str) -> None:
    _fill(sql_backend)
    code, _, err = _run("balances", "--database", database_url)
    assert code == 0
    assert "revenue:charging:op-1" in err and "-40.00" in err and "total" in err
    code, out, _ = _run("balances", "--database", database_url, "--json")
    assert code == 0
    document = json.loads(out)
    assert document["totals"] == {"EUR": "0.00"}
    clearing = next(x for x in document["lines"] if x["account"] == "asset:clearing:stripe")
    assert clearing["balance"] == "47.60"


def test_close_day_and_proof(sql_backend: SqlBackend, database_url: str) -> None:
    last = _fill(sql_backend)
    code, out, _ = _run("close-day", "2025-03-01", "--database", database_url)
    assert code == 0
    root = json.loads(out)
    assert root["day"] == "2025-03-01" and root["entry_count"] == 12
    assert _run("close-day", "2025-03-01", "--database", database_url)[1] == out
    code, out, _ = _run("proof", last, "--database", database_url)
    assert code == 0
    proofs = json.loads(out)["proofs"]
    assert len(proofs) == 3 and all(check_proof(x, root["root"]) for x in proofs)
    assert _run("verify", "--database", database_url)[1].endswith("1 daily roots\n")


def test_close_day_refuses_bad_days(database_url: str) -> None:
    code, _, err = _run("close-day", "01.03.2025", "--database", database_url)
    assert code == 2 and "YYYY-MM-DD" in err
    code, _, err = _run("close-day", "2999-01-01", "--database", database_url)
    assert code == 2 and "--force" in err
    code, _, err = _run("proof", "nope", "--database", database_url)
    assert code == 2 and "not in the ledger" in err
