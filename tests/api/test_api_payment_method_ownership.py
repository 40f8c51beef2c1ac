"""F2: a payment method belongs to the customer who attached it. Driver B posting driver A's
saved token is refused; A keeps it, B cannot top up with it nor delete it; sandbox tokens are
unguessable. (Before: the merge on the token moved the method to B, who topped up with it.)
"""

from __future__ import annotations

import re

import pytest
from api_world import World, bearer
from fastapi.testclient import TestClient
from sqlalchemy import select

from evbill.api.context import ApiContext
from evbill.payments.provider import PaymentMethodTaken
from evbill.payments.providers.sandbox import SandboxProvider
from evbill.payments.providers.sandbox_vault import CARD_SUCCESS
from evbill.payments.tables import PaymentMethodRow


def test_another_drivers_payment_method_cannot_be_taken_over(
    client: TestClient, world: World, ctx: ApiContext
) -> None:
    victim = world.methods["driver"]  # driver A's saved card
    attack = client.post("/api/v1/me/payment-methods", json={"token": victim},
                         headers=bearer(world, "driver2"))
    assert attack.status_code == 409, attack.text
    assert "another customer" in attack.json()["detail"]
    with ctx.db.read_sessions() as s:
        owner = s.scalar(select(PaymentMethodRow.account).where(PaymentMethodRow.token == victim))
    assert owner == world.users["driver"].token_account  # A keeps it
    mine = client.get("/api/v1/me/payment-methods", headers=bearer(world, "driver")).json()
    assert victim in [m["id"] for m in mine]
    theirs = client.get("/api/v1/me/payment-methods", headers=bearer(world, "driver2")).json()
    assert victim not in [m["id"] for m in theirs]
    top_up = client.post("/api/v1/me/wallet/top-ups", headers=bearer(world, "driver2"),
                         json={"amount": "50.00", "payment_method_id": victim})
    assert top_up.status_code == 404
    wallet = client.get("/api/v1/me/wallet", headers=bearer(world, "driver2")).json()
    assert wallet["balance"]["amount"] == "0.00"
    removed = client.delete(f"/api/v1/me/payment-methods/{victim}",
                            headers=bearer(world, "driver2"))
    assert removed.status_code == 404
    again = client.post("/api/v1/me/payment-methods", json={"token": victim},
                        headers=bearer(world, "driver"))
    assert again.status_code == 201  # the owner adding it again changes nothing


def test_a_fresh_token_is_claimed_by_its_first_customer_only(
    client: TestClient, world: World
) -> None:
    """A token not yet saved by anyone (say, seen over a shoulder before it was saved) is
    claimed at the provider by the first customer; the next is refused there too."""
    token = client.post("/api/v1/sandbox/tokens", json={
        "number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2031,
        "cvc": "123"}).json()["token"]
    first = client.post("/api/v1/me/payment-methods", json={"token": token},
                        headers=bearer(world, "driver"))
    assert first.status_code == 201
    second = client.post("/api/v1/me/payment-methods", json={"token": token},
                         headers=bearer(world, "driver2"))
    assert second.status_code == 409


def test_the_provider_refuses_another_customers_claim_on_its_own() -> None:
    sandbox = SandboxProvider(namespace="t")
    token = sandbox.tokenize(CARD_SUCCESS, 12, 2031, "123").token
    assert sandbox.claim(token, "driver.a").token == token
    assert sandbox.claim(token, "driver.a").token == token  # idempotent for its owner
    with pytest.raises(PaymentMethodTaken):
        sandbox.claim(token, "driver.b")


def test_sandbox_tokens_are_unguessable() -> None:
    sandbox = SandboxProvider(namespace="t")
    tokens = [sandbox.tokenize(CARD_SUCCESS, 12, 2031, "123").token for _ in range(50)]
    assert len(set(tokens)) == 50
    for token in tokens:
        suffix = token.removeprefix("pm_sbx_t_")
        assert re.fullmatch(r"[A-Za-z0-9_-]{24}", suffix)  # 144 random bits, not a counter
    assert not any(t.endswith("_000001") or t.endswith("_000002") for t in tokens)
