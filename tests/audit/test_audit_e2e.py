"""`evbill audit` on a world charged end to end (stations over real sockets → gateway →
rating → payments on the sandbox → receipts, invoice, credit note → ledger), on SQLite and
PostgreSQL: a clean world has 0 mismatches, and each kind of tampering is reported."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from payments_world import VISA, PaidWorld, charge
from sqlalchemy import text
from tampering import attacker
from typer.testing import CliRunner

from evbill.audit.reader import AuditPeriod, run_audit
from evbill.cli import app
from evbill.invoicing.compose import BillingPeriod
from evbill.invoicing.service import InvoicingService
from evbill.money import Money
from evbill.payments.tables import PaymentChargeRow
from evbill.store.database import Database

pytestmark = pytest.mark.e2e


async def _world(paid: PaidWorld) -> dict[str, PaymentChargeRow]:
    """A card session with a partial refund, a wallet session and an invoiced postpaid one."""
    paid.card_token("CARD-A", VISA)
    paid.payments.top_up("driver-w", Money.of("30.00", "EUR"),
                         paid.payments.add_card("driver-w", VISA, 12, 2030, "123").token,
                         key="topup-1")
    paid.bound_token("WALLET-A", "wallet", "driver-w")
    paid.bound_token("FLEET-A", "postpaid", "fleet-acme")
    one = await paid.world.station("E2E-1", "2.0.1")
    two = await paid.world.station("E2E-2", "1.6")
    await asyncio.gather(charge(one, "CARD-A"), charge(two, "FLEET-A", seconds=3600))
    await charge(one, "WALLET-A", seconds=1800)
    await one.close()
    await two.close()
    charges = {c.method: c for c in paid.charges()}
    assert set(charges) == {"card", "wallet", "postpaid"}
    await asyncio.to_thread(paid.payments.refund, charges["card"].reference,
                            Money.of("2.00", "EUR"), reason="EVSE fault", actor="ops",
                            key="refund-1")
    invoice = InvoicingService(paid.world.db).issue_invoice(
        "fleet-acme", "EUR", BillingPeriod(2025, 3), now=datetime(2025, 4, 1, 6, tzinfo=UTC))
    assert invoice is not None
    return charges


def _cli(db: Database, *args: str) -> tuple[int, str]:
    url = db.engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(app, ["audit", "--database", url, *args])
    return result.exit_code, result.stdout


def _cdr_of(db: Database, charge: PaymentChargeRow) -> str:
    from evbill.store.references import cdr_for_reference

    with db.read_sessions() as s:
        cdr = cdr_for_reference(s, charge.reference)
        assert cdr is not None
        return cdr.id


async def test_a_clean_world_has_no_mismatch_and_each_tampering_is_reported(
        paid: PaidWorld) -> None:
    charges = await _world(paid)
    db = paid.world.db
    report = run_audit(db)
    assert report.ok, [str(m) for m in report.mismatches]
    # 3 sessions; 3 charges; 2 receipts, 1 invoice, 1 credit note; capture, wallet spend,
    # postpaid charge and refund in the ledger.
    assert (report.sessions, report.payments, report.documents, report.postings) == (3, 3, 4, 4)
    code, out = _cli(db)
    assert code == 0 and out == ("audit: 3 sessions, 3 payments, 4 documents, 4 ledger "
                                 "transactions: 0 mismatches\n")
    assert _cli(db, "--period", "2025-03") == (0, out)
    code, out = _cli(db, "--period", "2025-04")
    assert code == 0 and out.startswith("audit: 0 sessions")
    assert _cli(db, "--period", "03/2025")[0] == 2

    card, wallet, postpaid = charges["card"], charges["wallet"], charges["postpaid"]
    with attacker(db) as conn:
        # a document line changed: the wallet receipt's energy line 1.00 lower
        conn.execute(text(
            "UPDATE invoice_lines SET net = net - 1 WHERE id = (SELECT MIN(l.id) FROM "
            "invoice_lines l JOIN invoice_sessions s ON s.document_id = l.document_id AND "
            "s.session_position = l.session_position WHERE s.reference = :r)"
            .replace("s.session_position", "s.position")), {"r": wallet.reference})
        # a missing capture: the card charge's row is gone (its refund row goes with it)
        conn.execute(text("DELETE FROM payment_refunds WHERE charge_id = :c"), {"c": card.id})
        conn.execute(text("DELETE FROM payment_charges WHERE id = :c"), {"c": card.id})
        # a ledger posting missing: the postpaid charge was never booked
        txn = conn.execute(text("SELECT id FROM ledger_transactions WHERE reference = :r AND "
                                "kind = 'postpaid_charge'"), {"r": postpaid.reference}).scalar_one()
        conn.execute(text("DELETE FROM ledger_entries WHERE transaction_id = :t"), {"t": txn})
        conn.execute(text("DELETE FROM ledger_transactions WHERE id = :t"), {"t": txn})
    problems = [str(m) for m in run_audit(db).mismatches]
    wallet_cdr, card_cdr, postpaid_cdr = (_cdr_of(db, c) for c in (wallet, card, postpaid))
    assert any(p.startswith(f"session {wallet_cdr} EUR net:") and "documented" in p
               for p in problems), problems
    assert any(p.startswith(f"session {card_cdr} EUR net:") and "charged none" in p
               for p in problems), problems
    assert any(p.startswith(f"session {card_cdr} EUR refund:") for p in problems), problems
    assert any(p.startswith(f"session {postpaid_cdr} EUR net:") and "booked none" in p
               for p in problems), problems
    assert any(p.startswith(f"session {postpaid_cdr} EUR VAT 19%:") and "booked none" in p
               for p in problems), problems
    code, out = _cli(db)
    assert code == 1
    lines = out.splitlines()
    assert lines[-1].endswith(f"{len(problems)} mismatches")
    assert lines[:-1] == [f"mismatch: {p}" for p in problems]


async def test_a_changed_cdr_total_is_reported(paid: PaidWorld) -> None:
    charges = await _world(paid)
    db = paid.world.db
    cdr_id = _cdr_of(db, charges["postpaid"])
    with db.read_sessions() as s:
        ocpi = s.scalar(text("SELECT ocpi_json FROM cdrs WHERE id = :i"), {"i": cdr_id})
    data = json.loads(ocpi, parse_float=Decimal)
    data["total_cost"]["excl_vat"] += Decimal("0.50")
    with db.sessions() as s:
        s.execute(text("UPDATE cdrs SET ocpi_json = :j WHERE id = :i"),
                  {"j": json.dumps(data, default=str), "i": cdr_id})
        s.commit()
    [mismatch] = run_audit(db, AuditPeriod(2025, 3)).mismatches
    assert str(mismatch).startswith(f"session {cdr_id} EUR net: rated ")
    rated = dict(mismatch.amounts)
    assert rated[mismatch.amounts[0][0]] == data["total_cost"]["excl_vat"]
