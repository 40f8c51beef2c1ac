"""The money-trust attack end to end: a station reports `meterStop` 2147483647 Wh one minute
into an ad hoc card session. The session is held, nothing is captured beyond the hold and no
receipt is issued, however often the settlement sweep runs; once an operator corrects the
reading, the session is rated and paid through the same hooks as any other."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from e2e_world import T0
from ocpp.v16 import call as v16_call
from payments_world import VISA, PaidWorld
from sqlalchemy import func, select

from evbill.config import Settings
from evbill.invoicing.tables import DocumentRow
from evbill.money import Money
from evbill.sessions.review import SessionReview

pytestmark = pytest.mark.e2e


def ts(seconds: int) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def _documents(paid: PaidWorld) -> int:
    with paid.world.db.read_sessions() as s:
        return int(s.scalar(select(func.count()).select_from(DocumentRow)) or 0)


async def test_meter_stop_2147483647_is_held_then_paid_once_corrected(
        paid: PaidWorld, tmp_path: object) -> None:
    paid.card_token("CARD-1", VISA)
    station = await paid.world.station("E2E-1", "1.6")
    started = await station.call(v16_call.StartTransaction(
        connector_id=1, id_tag="CARD-1", meter_start=10_000, timestamp=ts(0)))
    assert started.id_tag_info["status"] == "Accepted"
    tx = started.transaction_id
    await station.call(v16_call.StopTransaction(
        meter_stop=2147483647, timestamp=ts(60), transaction_id=tx, reason="Local"))
    await station.close()

    detail = paid.world.detail("E2E-1", str(tx))
    assert detail.session.state == "held" and detail.cdr is None
    [hold] = paid.sandbox.authorizations()
    for _ in range(2):
        paid.billing.sweep()  # the settlement pass finds nothing due on a held session
    assert hold.state.value == "authorized" and paid.captures() == []
    assert paid.charges() == [] and _documents(paid) == 0
    paid.assert_books()

    review = SessionReview(paid.world.db, Settings())
    out = review.resolve(int(detail.session.session_id), actor="ops@example.org",
                         reason="meter display shows 11000 Wh", meter_stop_wh=Decimal(11_000))
    assert out.state_after == "rated"
    paid.billing.after_event("E2E-1", str(tx))  # what `evbill sessions resolve` calls next
    assert paid.captures() == [Money.of("0.36", "EUR")]  # 1 kWh: 0.30 + 0.06 VAT
    assert _documents(paid) == 1
    paid.billing.after_event("E2E-1", str(tx))  # again: charged once
    assert len(paid.captures()) == 1
    paid.assert_books()
