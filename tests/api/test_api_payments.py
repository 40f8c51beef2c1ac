"""Payment methods, wallet, settlement with receipts, the ad hoc EVSE flow (hold, 3-D Secure,
capture, refund), failed payments and dunning, reconciliation, and provider webhooks."""

from __future__ import annotations

from decimal import Decimal

from api_world import World, bearer
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from evbill.api.context import ApiContext
from evbill.payments.providers.sandbox_vault import CARD_3DS_REQUIRED, CARD_DECLINED
from evbill.payments.settlement_pass import settle_due
from evbill.payments.tables import PaymentChargeRow
from evbill.sessions.commands import IdToken, IdTokenType, StartSession, StopSession
from evbill.store.outbox import StationCommandOutbox


def _token(client: TestClient, number: str) -> str:
    r = client.post("/api/v1/sandbox/tokens", json={"number": number, "exp_month": 12,
                                                    "exp_year": 2031, "cvc": "123"})
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


def test_payment_methods_keep_no_card_number(client: TestClient, world: World,
                                             ctx: ApiContext) -> None:
    token = _token(client, "5555 5555 5555 4444")
    r = client.post("/api/v1/me/payment-methods", json={"token": token},
                    headers=bearer(world, "driver"))
    assert r.status_code == 201 and r.json()["last4"] == "4444"
    listed = client.get("/api/v1/me/payment-methods", headers=bearer(world, "driver")).json()
    assert [m["last4"] for m in listed] == ["4242", "4444"]
    with ctx.db.read_sessions() as s:
        dump = " ".join(str(v) for v in s.execute(text("SELECT * FROM payment_methods")))
    assert "5555555555554444" not in dump
    unknown = client.post("/api/v1/me/payment-methods", json={"token": "tok_nope"},
                          headers=bearer(world, "driver"))
    assert unknown.status_code == 400


def test_top_up_is_idempotent_and_declines_are_402(client: TestClient, world: World) -> None:
    body = {"amount": "10.00", "payment_method_id": world.methods["driver2"]}
    headers = {**bearer(world, "driver2"), "Idempotency-Key": "k-1"}
    first = client.post("/api/v1/me/wallet/top-ups", json=body, headers=headers)
    second = client.post("/api/v1/me/wallet/top-ups", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    wallet = client.get("/api/v1/me/wallet", headers=bearer(world, "driver2")).json()
    assert wallet["balance"] == {"amount": "10.00", "currency": "EUR"}
    declined = client.post("/api/v1/me/payment-methods", json={
        "token": _token(client, CARD_DECLINED)}, headers=bearer(world, "driver2")).json()
    r = client.post("/api/v1/me/wallet/top-ups", headers=bearer(world, "driver2"),
                    json={"amount": "5", "payment_method_id": declined["id"]})
    assert r.status_code == 402 and "card_declined" in r.json()["detail"]
    other = client.post("/api/v1/me/wallet/top-ups", headers=bearer(world, "driver2"),
                        json={"amount": "5", "payment_method_id": world.methods["driver"]})
    assert other.status_code == 404  # another driver's card


def test_rated_sessions_are_paid_from_the_wallet_with_a_receipt(
    client: TestClient, world: World
) -> None:
    wallet = client.get("/api/v1/me/wallet", headers=bearer(world, "driver")).json()
    assert wallet["balance"]["amount"] == "12.86"  # 20.00 topped up − 7.14 for the session
    docs = client.get("/api/v1/me/documents", headers=bearer(world, "driver")).json()
    assert [(d["type"], d["total"]["amount"], d["paid"]) for d in docs] == [
        ("RECEIPT", "7.14", True)]
    pdf = client.get(docs[0]["links"]["pdf"], headers=bearer(world, "driver"))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    xml = client.get(docs[0]["links"]["xml"], headers=bearer(world, "driver"))
    assert b"CrossIndustryInvoice" in xml.content
    assert client.get(docs[0]["links"]["pdf"],
                      headers=bearer(world, "driver2")).status_code == 404
    # driver2 had no wallet: the session was posted to the account for the monthly invoice
    with world.db.read_sessions() as s:
        methods = dict(s.execute(select(PaymentChargeRow.reference, PaymentChargeRow.method)
                                 ).tuples().all())  # fmt: skip
    assert methods[world.cdrs["driver_done"]] == "wallet"
    assert methods[world.cdrs["driver2_done"]] == "postpaid"


def test_evse_offer_lists_price_per_kwh_first(client: TestClient, world: World) -> None:
    offer = client.get("/api/v1/public/evses/A-1/1").json()
    assert offer["prices"][0] == {"kind": "energy", "text": "0.357 EUR per kWh",
                                  "condition": "", "vat": "incl. 19 % VAT"}
    assert offer["hold"] == {"amount": "50.00", "currency": "EUR"}
    assert client.get("/api/v1/public/evses/A-1/9").status_code == 404


def test_ad_hoc_payment_holds_starts_captures_and_refunds(
    client: TestClient, world: World, ctx: ApiContext
) -> None:
    paid = client.post("/api/v1/public/evses/A-1/1/payments",
                       json={"payment_method_token": world.card_tokens["driver2"]})
    assert paid.status_code == 201 and paid.json()["status"] == "starting"
    pid, link = paid.json()["payment_id"], paid.json()["links"]["status"]
    command = StationCommandOutbox(world.db).list("A-1")[-1]
    assert command.action == "remote_start" and command.payload["id_token_type"] == "Central"
    service, start = world.service, world.clock.now
    assert service is not None
    token = IdToken(command.payload["id_token"], IdTokenType.CENTRAL)
    service.start(StartSession(station_id="A-1", evse_id=1, connector_id=1, id_token=token,
                               meter_start_wh=Decimal(0), started_at=start,
                               transaction_ref="adhoc-test"))
    world.clock.advance(minutes=30)
    service.stop(StopSession(station_id="A-1", transaction_id="adhoc-test",
                             stopped_at=world.clock.now, meter_stop_wh=Decimal(10000)))
    captures = len(ctx.provider.executed)  # type: ignore[attr-defined]
    assert pid in settle_due(ctx)
    assert len(ctx.provider.executed) == captures  # type: ignore[attr-defined]
    status = client.get(link).json()
    assert status["status"] == "settled" and status["captured"]["amount"] == "3.57"
    assert status["cost_so_far"] == {"amount": "3.57", "currency": "EUR"}
    recon = {r["reference"]: r for r in client.get(
        "/api/v1/operator/reconciliation", headers=bearer(world, "finance")).json()}
    assert recon[pid]["matched"] and recon[pid]["cdr_total"]["amount"] == "3.57"
    refund = client.post(f"/api/v1/operator/payments/{pid}/refunds", json={"amount": "1.00"},
                         headers=bearer(world, "admin"))
    assert refund.status_code == 201 and refund.json()["amount"]["amount"] == "1.00"
    too_much = client.post(f"/api/v1/operator/payments/{pid}/refunds",
                           json={"amount": "3.00"}, headers=bearer(world, "admin"))
    assert too_much.status_code == 409
    assert client.get(link.replace("key=", "key=wrong")).status_code == 404


def test_three_d_secure_then_confirm_starts_the_charge(client: TestClient, world: World) -> None:
    paid = client.post("/api/v1/public/evses/A-1/1/payments",
                       json={"payment_method_token": _token(client, CARD_3DS_REQUIRED)}).json()
    assert paid["status"] == "pending" and paid["challenge_ref"]
    before = len(StationCommandOutbox(world.db).list("A-1"))
    done = client.post(f"/api/v1/sandbox/challenges/{paid['challenge_ref']}",
                       json={"success": True})
    assert done.status_code == 200
    confirmed = client.post(f"/api/v1/public/payments/{paid['payment_id']}/confirm",
                            params={"key": paid["links"]["status"].split("key=")[1]})
    assert confirmed.json()["status"] == "starting"
    assert len(StationCommandOutbox(world.db).list("A-1")) == before + 1


def test_failed_payments_and_dunning_are_listed_per_network(
    client: TestClient, world: World
) -> None:
    before = len(StationCommandOutbox(world.db).list("A-1"))
    paid = client.post("/api/v1/public/evses/A-1/1/payments",
                       json={"payment_method_token": _token(client, CARD_DECLINED)}).json()
    assert paid["status"] == "failed" and paid["decline_code"] == "card_declined"
    assert len(StationCommandOutbox(world.db).list("A-1")) == before
    failed = client.get("/api/v1/operator/payments/failed",
                        headers=bearer(world, "finance")).json()
    assert {h["reference"] for h in failed["holds"]} == {paid["payment_id"],
                                                         world.payments["a"]}
    assert [d["id"] for d in failed["dunning"]] == [world.dunning]
    other = client.get("/api/v1/operator/payments/failed", headers=bearer(world, "finance_b"))
    assert other.json() == {"holds": [], "dunning": []}
    retried = client.post(f"/api/v1/operator/dunning/{world.dunning}/retry",
                          headers=bearer(world, "admin"))
    assert retried.status_code == 200 and retried.json()["status"] == "resolved"


def test_webhooks_need_a_valid_signature(client: TestClient, world: World,
                                         ctx: ApiContext) -> None:
    forged = client.post("/api/v1/webhooks/payments", content=b'{"id": "evt"}',
                         headers={"Sandbox-Signature": "t=1,v1=00"})
    assert forged.status_code == 400 and forged.json()["detail"].startswith("webhook:")
    paid = client.post("/api/v1/public/evses/A-1/1/payments",
                       json={"payment_method_token": _token(client, CARD_3DS_REQUIRED)}).json()
    provider = ctx.provider
    provider.complete_challenge(paid["challenge_ref"], True)  # type: ignore[attr-defined]
    hook = provider.outbox[-1]  # type: ignore[attr-defined]
    r = client.post("/api/v1/webhooks/payments", content=hook.body, headers=hook.headers)
    assert r.status_code == 200
    assert client.get(paid["links"]["status"]).json()["status"] == "starting"
    replay = client.post("/api/v1/webhooks/payments", content=hook.body, headers=hook.headers)
    assert replay.status_code == 400


def test_a_driver_removes_only_their_own_payment_method(client: TestClient, world: World) -> None:
    theirs = client.delete(f"/api/v1/me/payment-methods/{world.methods['driver']}",
                           headers=bearer(world, "driver2"))
    assert theirs.status_code == 404  # another driver's card is not found, nor removed
    mine = client.delete(f"/api/v1/me/payment-methods/{world.methods['driver']}",
                         headers=bearer(world, "driver"))
    assert mine.status_code == 204
    listed = client.get("/api/v1/me/payment-methods", headers=bearer(world, "driver")).json()
    assert world.methods["driver"] not in [m["id"] for m in listed]
    again = client.delete(f"/api/v1/me/payment-methods/{world.methods['driver']}",
                          headers=bearer(world, "driver"))
    assert again.status_code == 404
    still = client.get("/api/v1/me/payment-methods", headers=bearer(world, "driver2")).json()
    assert world.methods["driver2"] in [m["id"] for m in still]


def test_an_operator_writes_off_a_dunning_item_of_their_network(
    client: TestClient, world: World
) -> None:
    url = f"/api/v1/operator/dunning/{world.dunning}/write-off"
    other = client.post(url, json={"reason": "driver unreachable"},
                        headers=bearer(world, "admin_b"))
    assert other.status_code == 404  # another operator's network
    bad = client.post(url, json={"reason": ""}, headers=bearer(world, "admin"))
    assert bad.status_code in (400, 422)
    done = client.post(url, json={"reason": "driver unreachable"},
                       headers=bearer(world, "admin"))
    assert done.status_code == 200 and done.json()["status"] == "written_off"
    failed = client.get("/api/v1/operator/payments/failed",
                        headers=bearer(world, "finance")).json()
    assert world.dunning not in [d["id"] for d in failed["dunning"]]
    twice = client.post(url, json={"reason": "driver unreachable"},
                        headers=bearer(world, "admin"))
    assert twice.status_code == 409  # already closed: nothing is released twice
