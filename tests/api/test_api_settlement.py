"""The API's settlement pass on ad hoc payments only records what the gateway's session billing
hooks did with the hold: the provider sees exactly one capture, and the row's status follows
the hold (captured → settled, a failed capture stays open until retried, written off → failed).
"""

from __future__ import annotations

import pytest
from api_world import World, bearer
from fastapi.testclient import TestClient

from evbill.api.context import ApiContext
from evbill.payments.settlement_pass import adhoc_outcome, settle_due
from evbill.payments.tables import AdhocPaymentRow


def _captures(ctx: ApiContext, payment_id: str) -> list[tuple[str, str]]:
    executed: list[tuple[str, str]] = ctx.provider.executed  # type: ignore[attr-defined]
    return [(op, key) for op, key in executed if op == "capture" and key.startswith(payment_id)]


def _status(world: World, payment_id: str) -> str:
    with world.db.read_sessions() as s:
        row = s.get(AdhocPaymentRow, payment_id)
        assert row is not None
        return row.status


def test_a_settled_ad_hoc_payment_was_captured_once_by_the_hooks(
    client: TestClient, world: World, ctx: ApiContext
) -> None:
    pid = world.payments["b"]
    assert _status(world, pid) == "settled"
    assert _captures(ctx, pid) == [("capture", f"{pid}:capture")]
    operations = len(ctx.provider.executed)  # type: ignore[attr-defined]
    assert settle_due(ctx) == []  # nothing left to record, and the provider is not called
    assert len(ctx.provider.executed) == operations  # type: ignore[attr-defined]
    assert _status(world, pid) == "settled"


def test_a_failed_capture_stays_open_until_the_dunning_retry_captures(
    client: TestClient, world: World, ctx: ApiContext
) -> None:
    pid = world.payments["a"]  # its capture failed at the provider: in the dunning queue
    assert _captures(ctx, pid) == []
    assert pid not in settle_due(ctx)
    assert _status(world, pid) == "starting" and _captures(ctx, pid) == []
    retried = client.post(f"/api/v1/operator/dunning/{world.dunning}/retry",
                          headers=bearer(world, "admin"))
    assert retried.status_code == 200 and retried.json()["status"] == "resolved"
    assert settle_due(ctx) == [pid]
    assert _status(world, pid) == "settled"
    assert _captures(ctx, pid) == [("capture", f"{pid}:capture")]
    assert settle_due(ctx) == [] and len(_captures(ctx, pid)) == 1


def test_a_written_off_capture_marks_the_payment_failed(
    client: TestClient, world: World, ctx: ApiContext
) -> None:
    pid = world.payments["a"]
    done = client.post(f"/api/v1/operator/dunning/{world.dunning}/write-off",
                       json={"reason": "card cancelled"}, headers=bearer(world, "admin"))
    assert done.status_code == 200
    assert pid not in settle_due(ctx)
    assert _status(world, pid) == "failed" and _captures(ctx, pid) == []


@pytest.mark.parametrize(("session_payment", "hold", "captured", "expected"), [
    ("charged", "captured", True, "settled"),
    ("charged", "released", False, "settled"),  # zero price: the hold was voided
    ("charged", "expired", False, "settled"),  # hold ended early: billed to the account
    ("dunning", "captured", True, "settled"),  # the dunning retry captured
    ("dunning", "capture_failed", False, None),
    ("dunning", "released", False, "failed"),  # written off
    (None, "authorized", False, None),  # the station has not started yet
    (None, "released", False, "failed"),  # never started: the sweep released the hold
    (None, "declined", False, "failed"),
    ("claimed", "authorized", False, None),  # charging
    ("claimed", "expired", False, None),  # still charging: the rating bills the account
])
def test_adhoc_outcome(session_payment: str | None, hold: str | None, captured: bool,
                       expected: str | None) -> None:
    assert adhoc_outcome(session_payment, hold, captured) == expected
