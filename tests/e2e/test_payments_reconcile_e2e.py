"""OCPP 2.1 payment at the station's own terminal (NotifySettlement) through the real gateway,
and reconciliation of provider records against the ledger (`evbill reconcile`)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from ocpp.v21 import call as v21_call
from payments_world import VISA, PaidWorld, charge
from sqlalchemy import select
from typer.testing import CliRunner

from evbill.cli import app
from evbill.money import Money
from evbill.payments.reconcile import Problem, reconcile
from evbill.payments.tables import StationSettlementRow

pytestmark = pytest.mark.e2e


def _settlement(psp_ref: str, amount: float, transaction_id: str | None,
                status: str = "Settled") -> v21_call.NotifySettlement:
    return v21_call.NotifySettlement(
        psp_ref=psp_ref, settlement_amount=amount, settlement_time="2025-03-01T10:05:00Z",
        status=status, transaction_id=transaction_id, receipt_id="R-1")


def _settlements(paid: PaidWorld) -> list[StationSettlementRow]:
    with paid.world.db.read_sessions() as r:
        return list(r.scalars(select(StationSettlementRow).order_by(StationSettlementRow.psp_ref)))


async def test_notify_settlement_is_recorded_reconciled_and_posted_once(paid: PaidWorld) -> None:
    station = await paid.world.station("E2E-3", "2.1")
    outcome = await charge(station, "E2E-TAG-0001")  # a registered tag, paid at the terminal
    reply = await station.call(_settlement("psp-001", 7.85, outcome.transaction_id))
    again = await station.call(_settlement("psp-001", 7.85, outcome.transaction_id))
    other = await station.call(_settlement("psp-002", 3.10, "no-such-tx"))
    failed = await station.call(_settlement("psp-003", 7.85, outcome.transaction_id, "Failed"))
    await station.close()

    assert reply.receipt_id == "R-1" and again.receipt_id == "R-1"
    assert other is not None and failed is not None
    rows = {row.psp_ref: row for row in _settlements(paid)}
    assert set(rows) == {"psp-001", "psp-002", "psp-003"}  # the repeat added nothing
    detail = paid.world.detail("E2E-3", outcome.transaction_id)
    assert rows["psp-001"].session_id == int(detail.session.session_id)
    assert rows["psp-001"].reconciled == "matched"
    assert rows["psp-001"].amount == Decimal("7.85")
    assert rows["psp-002"].reconciled == "no session for this transaction"
    assert rows["psp-003"].reconciled == "not settled (Failed)"
    assert rows["psp-003"].ledger_transaction is None
    # Settled money sits at the terminal's provider until paid out: 7.85 + 3.10.
    assert paid.balance("asset:clearing:terminal") == Decimal("10.95")
    assert paid.balance("revenue:charging:evbill") == Decimal("-9.70")  # 6.60 net + 3.10
    assert paid.balance("liability:vat:DE:19") == Decimal("-1.25")
    paid.assert_books()


async def test_reconcile_finds_differences_and_exits_1_then_0_when_clean(
        paid: PaidWorld) -> None:
    paid.card_token("CARD-1", VISA)
    station = await paid.world.station("E2E-1", "2.0.1")
    outcome = await charge(station, "CARD-1", seconds=3600)
    await station.close()
    assert outcome.transaction_id is not None
    sp = paid.session_payment("E2E-1", outcome.transaction_id)
    assert sp.charge_reference is not None
    paid.payments.refund(sp.charge_reference, Money.of("1.00", "EUR"), reason="goodwill",
                         actor="ops", key="goodwill-1")
    paid.sandbox.settle()  # a payout
    for hook in paid.sandbox.outbox:
        if hook.event.type.value == "settlement.paid":
            paid.payments.handle_webhook(hook.headers, hook.body)

    assert reconcile(paid.world.db, paid.sandbox) == []  # capture, refund, payout all booked

    [capture] = [r for r in paid.sandbox.records() if r.kind.value == "capture"]
    paid.sandbox.forget(capture.provider_ref)  # the provider lost the capture
    [diff] = reconcile(paid.world.db, paid.sandbox)
    assert diff.problem is Problem.MISSING_AT_PROVIDER
    assert diff.kind == "capture" and diff.ledger_amount == capture.amount

    # The CLI on the station-terminal records: clean, then a settlement the ledger lacks.
    runner = CliRunner()
    args = ["reconcile", "--provider", "terminal", "--database", _url(paid)]
    clean = await asyncio.to_thread(runner.invoke, app, args)
    assert clean.exit_code == 0, clean.output
    assert "agree" in clean.output
    _inject_unbooked_settlement(paid)
    dirty = await asyncio.to_thread(runner.invoke, app, [*args, "--since", "2025-01-01"])
    assert dirty.exit_code == 1, dirty.output
    assert "missing in ledger" in dirty.output and "psp-ghost" in dirty.output


def _url(paid: PaidWorld) -> str:
    return paid.world.db.engine.url.render_as_string(hide_password=False)


def _inject_unbooked_settlement(paid: PaidWorld) -> None:
    """A settlement row written behind the ledger's back (what reconcile must catch)."""
    from datetime import UTC, datetime

    at = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    with paid.world.db.sessions() as s:
        s.add(StationSettlementRow(
            psp_ref="psp-ghost", station_id="E2E-1", transaction_id=None, session_id=None,
            status="Settled", amount=Decimal("4.20"), currency="EUR", receipt_id=None,
            settled_at=at, reconciled="injected", ledger_transaction=None, created_at=at))
        s.commit()
