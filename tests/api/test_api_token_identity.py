"""Attack F1 of issue 11, performed through the API: a driver registers another driver's card
UID under another token type. Before the fix the API accepted it, and the attacker read the
victim's sessions, the victim's sessions were billed to the attacker's wallet, and once that
wallet fell below the minimum the victim's own card answered Blocked. Now a card is linked only
with the verification code the operator issued with it, and one value is one credential."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from api_world import World, _session, bearer
from fastapi.testclient import TestClient
from sqlalchemy import select

from evbill.api.context import ApiContext
from evbill.payments.settlement_pass import settle_due
from evbill.payments.tables import PaymentChargeRow, PaymentTokenBindingRow
from evbill.sessions.commands import AuthorizationStatus, Authorize, IdToken, IdTokenType
from evbill.store.tables import CdrRow, IdTokenRow

VICTIM_CARD = "CC33DD44"  # driver2's card (postpaid: no wallet)
ATTEMPTS = [(VICTIM_CARD, "Central"), ("cc:33:dd:44", "Local"), (VICTIM_CARD, "ISO15693"),
            ("cc-33-dd-44", "KeyCode"), (VICTIM_CARD, "ISO14443")]  # fmt: skip


def test_a_driver_cannot_claim_another_drivers_card_under_any_type(
    client: TestClient, world: World, ctx: ApiContext
) -> None:
    attacker, victim = bearer(world, "driver"), world.users["driver2"]
    own_code = world.claim_codes["0102030405"]  # a real code, of another card
    for uid, kind in ATTEMPTS:
        plain = client.post("/api/v1/me/id-tokens", json={"uid": uid, "type": kind},
                            headers=attacker)  # the request as the old API took it
        assert plain.status_code == 422, (uid, kind, plain.text)
        guessed = client.post("/api/v1/me/id-tokens", headers=attacker, json={
            "uid": uid, "type": kind, "verification_code": own_code})  # fmt: skip
        assert guessed.status_code == 409, (uid, kind, guessed.text)
        assert guessed.json()["detail"].startswith("uid: this card cannot be linked")
        world.clock.advance(minutes=2)  # past the limiter's window: every attempt is answered
    cards = client.get("/api/v1/me/id-tokens", headers=attacker).json()
    assert {c["uid"] for c in cards} == {"AA11BB22"}
    with world.db.read_sessions() as s:
        rows = list(s.scalars(select(IdTokenRow).where(IdTokenRow.value == VICTIM_CARD)))
        binding = s.get(PaymentTokenBindingRow, VICTIM_CARD)
    assert [(r.type, r.account) for r in rows] == [("ISO14443", victim.token_account)]
    assert binding is None  # the attacker's wallet never took the victim's card

    # The victim charges 30 kWh at B-1 (0.50 EUR/kWh): history, billing and the card's answer.
    assert world.service is not None
    settle_due(ctx)  # the attacker's own sessions are paid first
    balance = client.get("/api/v1/me/wallet", headers=attacker).json()["balance"]
    start = world.clock.now + timedelta(hours=1)
    session_id = _session(world.service, world.clock, "B-1", 1, VICTIM_CARD, start, 60, "30",
                          stop=True)  # fmt: skip
    settle_due(ctx)
    seen = {s["id"] for s in client.get("/api/v1/me/sessions", headers=attacker).json()["items"]}
    assert session_id not in seen
    assert client.get(f"/api/v1/me/sessions/{session_id}", headers=attacker).status_code == 404
    assert client.get(f"/api/v1/me/sessions/{session_id}/live",
                      headers=attacker).status_code == 404  # fmt: skip
    mine = client.get("/api/v1/me/sessions", headers=bearer(world, "driver2")).json()["items"]
    assert session_id in {s["id"] for s in mine}
    with world.db.read_sessions() as s:
        cdr_id = s.scalars(select(CdrRow.id).where(CdrRow.session_id == session_id)).one()
        charge = s.scalars(select(PaymentChargeRow)
                           .where(PaymentChargeRow.reference == cdr_id)).one()  # fmt: skip
    assert (charge.account, charge.method) == (victim.token_account, "postpaid")
    assert cdr_id not in {c["id"] for c in
                          client.get("/api/v1/me/cdrs", headers=attacker).json()["items"]}
    wallet = client.get("/api/v1/me/wallet", headers=attacker).json()
    assert wallet["balance"] == balance  # the attacker's wallet paid nothing of it

    # The attacker's wallet falls below the station's minimum (10.00 EUR): their own card is
    # refused, the victim's card is not.
    _session(world.service, world.clock, "A-1", 1, "AA11BB22",
             world.clock.now + timedelta(hours=1), 60, "10", stop=True)  # 3.57 EUR
    settle_due(ctx)
    low = client.get("/api/v1/me/wallet", headers=attacker).json()["balance"]["amount"]
    assert Decimal(low) < Decimal("10.00")

    def answer(card: str, kind: IdTokenType) -> AuthorizationStatus:
        assert world.service is not None
        return world.service.authorize(Authorize(station_id="B-1", at=world.clock.now,
                                                 id_token=IdToken(card, kind))).status

    assert answer("AA11BB22", IdTokenType.ISO14443) is AuthorizationStatus.BLOCKED
    for kind in (IdTokenType.ISO14443, IdTokenType.LOCAL, IdTokenType.CENTRAL):
        assert answer(VICTIM_CARD, kind) is AuthorizationStatus.ACCEPTED, kind


def test_an_issued_card_is_linked_once_with_its_code(
    client: TestClient, world: World, ctx: ApiContext
) -> None:
    uid, code = "EE55FF66", world.claim_codes["EE55FF66"]
    body = {"uid": "ee:55:ff:66", "type": "Local", "verification_code": code.lower()}
    first = client.post("/api/v1/me/id-tokens", json=body, headers=bearer(world, "driver"))
    assert first.status_code == 201, first.text
    assert (first.json()["uid"], first.json()["type"]) == (uid, "ISO14443")  # as issued
    again = client.post("/api/v1/me/id-tokens", json=body, headers=bearer(world, "driver"))
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]  # idempotent
    other = client.post("/api/v1/me/id-tokens", json=body, headers=bearer(world, "driver2"))
    assert other.status_code == 409  # the code is spent; the card is someone's
    with world.db.read_sessions() as s:
        row = s.scalars(select(IdTokenRow).where(IdTokenRow.value == uid)).one()
    assert row.account == world.users["driver"].token_account and row.claim_code_hash is None


def test_wrong_codes_are_limited_per_driver(client: TestClient, world: World) -> None:
    """Three wrong codes (the test app's sign-in limit) and even the right one must wait."""
    uid = "NEW-CARD-2"
    for guess in ("AAAA-AAAA-AAAA", "BBBB-BBBB-BBBB", "CCCC-CCCC-CCCC"):
        r = client.post("/api/v1/me/id-tokens", headers=bearer(world, "driver2"),
                        json={"uid": uid, "verification_code": guess})  # fmt: skip
        assert r.status_code == 409
    right = client.post("/api/v1/me/id-tokens", headers=bearer(world, "driver2"),
                        json={"uid": uid, "verification_code": world.claim_codes[uid]})
    assert right.status_code == 429 and int(right.headers["Retry-After"]) > 0
    world.clock.advance(minutes=2)  # the window (60 s) has passed
    later = client.post("/api/v1/me/id-tokens", headers=bearer(world, "driver2"),
                        json={"uid": uid, "verification_code": world.claim_codes[uid]})
    assert later.status_code == 201, later.text


def test_the_operator_issues_a_card_and_its_code_is_stored_only_hashed(
    client: TestClient, world: World
) -> None:
    issued = client.post("/api/v1/operator/id-tokens", headers=bearer(world, "admin"),
                         json={"uid": "04:1a:2b:3c:4d:5e:6f", "type": "ISO14443"})
    assert issued.status_code == 201, issued.text
    out = issued.json()
    assert out["uid"] == "041A2B3C4D5E6F" and len(out["verification_code"]) == 14
    with world.db.read_sessions() as s:
        row = s.get(IdTokenRow, out["id"])
    assert row is not None and row.account is None and row.claim_code_hash is not None
    assert out["verification_code"] not in row.claim_code_hash
    taken = client.post("/api/v1/operator/id-tokens", headers=bearer(world, "admin"),
                        json={"uid": "041a2b3c4d5e6f", "type": "Central"})
    assert taken.status_code == 409 and "already registered" in taken.json()["detail"]
    finance = client.post("/api/v1/operator/id-tokens", headers=bearer(world, "finance"),
                          json={"uid": "0A0B0C0D0E"})
    assert finance.status_code == 403
