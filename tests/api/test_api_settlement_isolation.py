"""Every rated session settles, whatever its amount, and one that cannot settle blocks no other.

A 3.57 Wh session costs 0.0014 EUR → 0.00: it settles as zero (nothing charged, no ledger
entry, no document) and the sessions after it settle too. A session whose settlement raises
(here: its account name is not a valid ledger account) is isolated: retried with back-off,
then dead-lettered, listed for the operator with its error (API and CLI), and requeued once
its cause is fixed. Before these rules the pass raised on the first such session forever.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

from api_world import World, bearer
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from evbill.accounts.tokens import TokenRegistry
from evbill.api.context import ApiContext
from evbill.cli import app as cli_app
from evbill.invoicing.tables import DocumentRow, DocumentSessionRow
from evbill.ledger.tables import TransactionRow
from evbill.payments.session_billing import SessionBilling
from evbill.payments.settlement_failures import RetryPolicy, SettlementFailures
from evbill.payments.settlement_pass import settle_due
from evbill.payments.tables import (
    PaymentChargeRow,
    PaymentWalletRow,
    SessionPaymentRow,
    SettlementFailureRow,
)
from evbill.sessions.commands import IdToken, StartSession, StopSession
from evbill.store.tables import CdrRow, IdTokenRow, SessionRow

DRIVER_CARD, DRIVER2_CARD = "AA11BB22", "CC33DD44"


def _charge(world: World, card: str, tx: str, wh: str, *, station: str = "B-1") -> str:
    """One session on `card` at `station` from start to rating; returns its CDR id."""
    assert world.service is not None
    world.clock.advance(minutes=5)
    world.service.start(StartSession(station_id=station, evse_id=1, connector_id=1,
                                     id_token=IdToken(card), meter_start_wh=Decimal(1000),
                                     started_at=world.clock.now, transaction_ref=tx))
    world.clock.advance(minutes=10)
    world.service.stop(StopSession(station_id=station, transaction_id=tx,
                                   stopped_at=world.clock.now,
                                   meter_stop_wh=Decimal(1000) + Decimal(wh)))
    with world.db.read_sessions() as s:
        return s.scalars(select(CdrRow.id).join(SessionRow, SessionRow.id == CdrRow.session_id)
                         .where(SessionRow.transaction_id == tx)).one()


def _money_trail(world: World, cdr_id: str) -> tuple[int, int, int]:
    """Charges, ledger transactions and documents that name the session."""
    with world.db.read_sessions() as s:
        charges = s.scalar(select(func.count()).select_from(PaymentChargeRow)
                           .where(PaymentChargeRow.reference == cdr_id))
        ledger = s.scalar(select(func.count()).select_from(TransactionRow)
                          .where(TransactionRow.reference == cdr_id))
        documents = s.scalar(select(func.count()).select_from(DocumentSessionRow)
                             .where(DocumentSessionRow.reference == cdr_id))
    return int(charges or 0), int(ledger or 0), int(documents or 0)


def _session_payment(world: World, cdr_id: str) -> SessionPaymentRow:
    with world.db.read_sessions() as s:
        session_id = s.scalars(select(CdrRow.session_id).where(CdrRow.id == cdr_id)).one()
        return s.scalars(select(SessionPaymentRow)
                         .where(SessionPaymentRow.session_id == session_id)).one()


def test_a_zero_amount_session_settles_as_zero_and_later_sessions_settle_too(
    client: TestClient, world: World, ctx: ApiContext
) -> None:
    zero = _charge(world, DRIVER2_CARD, "tiny", "3.57")  # 0.00357 kWh × 0.50 = 0.0014 → 0.00
    later = _charge(world, DRIVER2_CARD, "after", "10000")
    settled = settle_due(ctx)
    assert zero in settled and later in settled
    payment = _session_payment(world, zero)
    assert (payment.status, payment.charged_gross, payment.charge_reference) == (
        "charged", Decimal("0.00"), None)
    assert _money_trail(world, zero) == (0, 0, 0)  # nothing charged, booked or documented
    assert _money_trail(world, later)[:2] == (1, 1)  # postpaid: charged and booked
    assert settle_due(ctx) == []  # both done for good: no pass takes them again


def test_a_zero_amount_wallet_session_takes_nothing_and_issues_no_receipt(
    client: TestClient, world: World, ctx: ApiContext
) -> None:
    with world.db.read_sessions() as s:
        before = s.get(PaymentWalletRow, world.users["driver"].token_account)
        assert before is not None
        balance = before.balance
    zero = _charge(world, DRIVER_CARD, "tiny-w", "3.57", station="A-1")
    settle_due(ctx)  # the card is bound as a wallet payer's: the gateway's hooks settled it
    payment = _session_payment(world, zero)
    assert (payment.mode, payment.status, payment.charged_gross) == ("wallet", "charged", 0)
    assert _money_trail(world, zero) == (0, 0, 0)
    with world.db.read_sessions() as s:
        after = s.get(PaymentWalletRow, world.users["driver"].token_account)
        assert after is not None and after.balance == balance
        receipts = s.scalar(select(func.count()).select_from(DocumentRow)
                            .where(DocumentRow.account_id == world.users["driver"].token_account))
    assert receipts == 1  # only the world's first receipt


def test_a_zero_amount_session_through_the_gateway_hooks_is_charged_as_zero(
    client: TestClient, world: World, ctx: ApiContext
) -> None:
    assert world.service is not None
    billing = world.service._hooks  # the gateway's SessionBilling
    assert isinstance(billing, SessionBilling)
    billing.bind_token(DRIVER2_CARD, "postpaid", world.users["driver2"].token_account or "")
    zero = _charge(world, DRIVER2_CARD, "tiny-h", "3.57")
    later = _charge(world, DRIVER2_CARD, "after-h", "2000")
    assert _session_payment(world, zero).status == "charged"
    assert _session_payment(world, zero).charged_gross == Decimal(0)
    assert _money_trail(world, zero) == (0, 0, 0)
    assert _session_payment(world, later).charged_gross == Decimal("1.19")
    assert billing.settle_due() == []  # nothing left open: no payment stays `claimed`


def _break_account(world: World, card: str) -> None:
    """A card whose account name the ledger refuses (a space): its postings raise."""
    TokenRegistry(world.db).add(card, account="driver.no such account", now=world.clock.now)


def test_a_failing_session_is_isolated_retried_with_back_off_then_dead_lettered(
    client: TestClient, world: World, ctx: ApiContext, database_url: str
) -> None:
    _break_account(world, "BROKEN-1")
    broken = _charge(world, "BROKEN-1", "broken", "5000")
    good = _charge(world, DRIVER2_CARD, "good", "4000")
    failures = SettlementFailures(world.db, world.clock,
                                  RetryPolicy(first=timedelta(seconds=10), attempts=3))
    assert settle_due(ctx, failures) == [good]  # the broken one did not block it
    with world.db.read_sessions() as s:
        row = s.get(SettlementFailureRow, broken)
        assert row is not None
        assert (row.status, row.attempts, row.kind, row.station_id) == (
            "retrying", 1, "driver", "B-1")
        assert "InvalidAccount" in row.last_error
        first_due = row.next_attempt_at
    assert first_due == world.clock.now + timedelta(seconds=10)
    assert settle_due(ctx, failures) == []  # waiting for its back-off: not tried again
    assert _attempts(world, broken) == 1
    world.clock.advance(seconds=10)
    assert settle_due(ctx, failures) == [] and _attempts(world, broken) == 2
    with world.db.read_sessions() as s:
        row = s.get(SettlementFailureRow, broken)
        assert row is not None and row.next_attempt_at == world.clock.now + timedelta(seconds=20)
    world.clock.advance(seconds=20)
    settle_due(ctx, failures)
    with world.db.read_sessions() as s:
        row = s.get(SettlementFailureRow, broken)
        assert row is not None and (row.status, row.attempts) == ("dead", 3)
    world.clock.advance(hours=5)
    settle_due(ctx, failures)
    assert _attempts(world, broken) == 3  # dead: never tried again on its own
    late = _charge(world, DRIVER2_CARD, "late", "1000")
    assert settle_due(ctx, failures) == [late]  # and it blocks nothing

    # The operator sees it with its error (API, own network only; CLI) ...
    listed = client.get("/api/v1/operator/settlement/failures", headers=bearer(world, "admin_b"))
    assert listed.status_code == 200
    assert [(f["reference"], f["status"], f["attempts"]) for f in listed.json()] == [
        (broken, "dead", 3)]
    assert "InvalidAccount" in listed.json()[0]["last_error"]
    other = client.get("/api/v1/operator/settlement/failures", headers=bearer(world, "admin"))
    assert other.status_code == 200 and other.json() == []
    out = CliRunner().invoke(cli_app, ["payments", "failed", "--json",
                                       "--database", database_url])
    assert out.exit_code == 0, out.output
    assert [(f["reference"], f["status"]) for f in json.loads(out.stdout)] == [(broken, "dead")]

    # ... fixes the cause and requeues it: it settles at the next pass.
    with world.db.sessions() as s, s.begin():
        s.execute(update(IdTokenRow).where(IdTokenRow.value == "BROKEN-1")
                  .values(account="driver.fixed"))
    refused = client.post(f"/api/v1/operator/settlement/failures/{broken}/retry",
                          headers=bearer(world, "admin"))
    assert refused.status_code == 404  # not op-a's station
    again = client.post(f"/api/v1/operator/settlement/failures/{broken}/retry",
                        headers=bearer(world, "admin_b"))
    assert again.status_code == 200, again.text
    assert settle_due(ctx, failures) == [broken]
    with world.db.read_sessions() as s:
        row = s.get(SettlementFailureRow, broken)
        assert row is not None and row.status == "resolved"
    assert _money_trail(world, broken)[:2] == (1, 1)
    out = CliRunner().invoke(cli_app, ["payments", "failed", "--json",
                                       "--database", database_url])
    assert out.exit_code == 0 and json.loads(out.stdout) == []


def test_the_gateway_hooks_isolate_a_failing_session_and_the_sweep_backs_off(
    client: TestClient, world: World, ctx: ApiContext
) -> None:
    assert world.service is not None
    billing = world.service._hooks
    assert isinstance(billing, SessionBilling)
    billing.bind_token("BROKEN-2", "postpaid", "fleet with a space")
    billing.bind_token(DRIVER2_CARD, "postpaid", world.users["driver2"].token_account or "")
    TokenRegistry(world.db).add("BROKEN-2", account="fleet", now=world.clock.now)
    broken = _charge(world, "BROKEN-2", "broken-h", "5000")  # the stop is not refused
    good = _charge(world, DRIVER2_CARD, "good-h", "3000")
    assert _session_payment(world, broken).status == "claimed"
    with world.db.read_sessions() as s:
        reference = _session_payment(world, broken).reference
        row = s.get(SettlementFailureRow, reference)
        assert row is not None and (row.kind, row.attempts) == ("session", 1)
    assert _money_trail(world, good)[:2] == (1, 1)
    assert _attempts(world, reference) == 1  # other sessions' events do not retry it
    assert billing.settle_due() == []  # its back-off has passed: tried again, still failing
    assert _attempts(world, reference) == 2
    assert billing.settle_due() == [] and _attempts(world, reference) == 2  # backing off
    world.clock.advance(seconds=20)
    assert billing.settle_due() == [] and _attempts(world, reference) == 3
    assert _session_payment(world, broken).status == "claimed"  # nothing half-charged


def _attempts(world: World, reference: str) -> int:
    with world.db.read_sessions() as s:
        row = s.get(SettlementFailureRow, reference)
        assert row is not None
        return row.attempts
