"""A driver who pays by wallet needs the station's wallet minimum to start, from the app (402,
nothing sent to the station) and with an RFID card at the station (the gateway's hooks refuse
it); a postpaid driver starts regardless."""

from __future__ import annotations

from decimal import Decimal

from api_world import World, bearer
from fastapi.testclient import TestClient
from sqlalchemy import select

from evbill.api.context import ApiContext
from evbill.payments.session_billing import SessionBilling
from evbill.payments.settlement_pass import settle_due
from evbill.payments.tables import PaymentChargeRow, PaymentTokenBindingRow, SessionPaymentRow
from evbill.sessions.commands import (
    AuthorizationStatus,
    Authorize,
    IdToken,
    StartSession,
    StopSession,
)
from evbill.store.outbox import StationCommandOutbox

DRIVER2_CARD = "CC33DD44"
START = {"station_id": "A-1", "evse_id": 1}


def _top_up(client: TestClient, world: World, amount: str, key: str) -> None:
    r = client.post("/api/v1/me/wallet/top-ups", headers={**bearer(world, "driver2"),
                    "Idempotency-Key": key},
                    json={"amount": amount, "payment_method_id": world.methods["driver2"]})
    assert r.status_code == 201, r.text


def _commands(world: World) -> int:
    return len(StationCommandOutbox(world.db).list("A-1"))


def _binding(world: World, card: str) -> str | None:
    with world.db.read_sessions() as s:
        row = s.get(PaymentTokenBindingRow, card)
        return None if row is None else row.mode


def test_an_app_start_below_the_minimum_is_refused_until_a_top_up(
    client: TestClient, world: World
) -> None:
    _top_up(client, world, "5.00", "first")  # driver2 pays by wallet from now on
    before = _commands(world)
    refused = client.post("/api/v1/me/sessions", json=START, headers=bearer(world, "driver2"))
    assert refused.status_code == 402
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["detail"] == (
        "wallet: balance 5.00 EUR below the minimum 10.00 EUR to start; top up first")
    assert _commands(world) == before  # nothing was sent to the station
    _top_up(client, world, "5.00", "second")
    started = client.post("/api/v1/me/sessions", json=START, headers=bearer(world, "driver2"))
    assert started.status_code == 202, started.text
    assert _commands(world) == before + 1
    assert StationCommandOutbox(world.db).list("A-1")[-1].action == "remote_start"


def test_a_postpaid_driver_starts_with_no_wallet_or_a_small_one(
    client: TestClient, world: World, ctx: ApiContext
) -> None:
    before = _commands(world)
    first = client.post("/api/v1/me/sessions", json=START, headers=bearer(world, "driver2"))
    assert first.status_code == 202  # no wallet: postpaid, the monthly invoice
    billing = SessionBilling(world.db, ctx.payments)  # a fleet contract bound by the operator
    billing.bind_token(DRIVER2_CARD, "postpaid", world.users["driver2"].token_account)
    _top_up(client, world, "5.00", "small")
    assert _binding(world, DRIVER2_CARD) == "postpaid"  # a top-up does not rebind it
    again = client.post("/api/v1/me/sessions", json=START, headers=bearer(world, "driver2"))
    assert again.status_code == 202 and _commands(world) == before + 2


def test_rfid_on_a_wallet_payers_card_is_refused_at_the_station_below_the_minimum(
    client: TestClient, world: World
) -> None:
    assert world.service is not None
    assert _binding(world, DRIVER2_CARD) is None
    _top_up(client, world, "5.00", "first")
    assert _binding(world, DRIVER2_CARD) == "wallet"
    ask = Authorize(station_id="B-1", id_token=IdToken(DRIVER2_CARD), at=world.clock.now)
    refused = world.service.authorize(ask)
    assert refused.status is AuthorizationStatus.BLOCKED
    assert refused.reason == "wallet balance below the minimum 10.00 EUR"
    _top_up(client, world, "5.00", "second")
    assert world.service.authorize(ask).status is AuthorizationStatus.ACCEPTED


def test_a_wallet_payers_new_card_is_bound_and_a_postpaid_drivers_is_not(
    client: TestClient, world: World
) -> None:
    for label, uid in (("driver", "NEW-CARD-1"), ("driver2", "NEW-CARD-2")):
        r = client.post("/api/v1/me/id-tokens", json={"uid": uid, "type": "ISO14443",
                                                      "verification_code": world.claim_codes[uid]},
                        headers=bearer(world, label))
        assert r.status_code == 201, r.text
    assert _binding(world, "NEW-CARD-1") == "wallet"  # driver topped up: a wallet payer
    assert _binding(world, "NEW-CARD-2") is None  # driver2 never did: postpaid


def test_a_bound_wallet_session_is_paid_once_by_the_hooks(
    client: TestClient, world: World, ctx: ApiContext
) -> None:
    assert world.service is not None
    _top_up(client, world, "10.00", "enough")
    start = world.clock.now
    world.service.start(StartSession(station_id="B-1", evse_id=1, connector_id=1,
                                     id_token=IdToken(DRIVER2_CARD), meter_start_wh=Decimal(0),
                                     started_at=start, transaction_ref="rfid-w"))
    world.clock.advance(minutes=30)
    world.service.stop(StopSession(station_id="B-1", transaction_id="rfid-w",
                                   stopped_at=world.clock.now, meter_stop_wh=Decimal(10000)))
    with world.db.read_sessions() as s:
        payment = s.scalars(select(SessionPaymentRow).where(
            SessionPaymentRow.id_token == DRIVER2_CARD, SessionPaymentRow.mode == "wallet")).one()
        cdr_id = payment.charge_reference
        assert payment.mode == "wallet" and payment.status == "charged"
    assert cdr_id not in settle_due(ctx)  # the API's pass leaves it to the hooks
    with world.db.read_sessions() as s:
        charges = s.scalars(select(PaymentChargeRow).where(
            PaymentChargeRow.reference == cdr_id)).all()
    assert [(c.method, c.gross) for c in charges] == [("wallet", Decimal("5.95"))]
    wallet = client.get("/api/v1/me/wallet", headers=bearer(world, "driver2")).json()
    assert wallet["balance"]["amount"] == "4.05"  # 10.00 − 10 kWh at 0.50 + 19 % VAT
