"""Issue 11 F8 and F9, performed as the attacker did: a signed-out token or cookie is refused
at once (every process reads the same session table), a password change ends every session,
and an Idempotency-Key reused with other parameters is refused instead of answered with the
first request's result."""

from __future__ import annotations

import re

from api_world import PASSWORD, World, bearer
from fastapi.testclient import TestClient

from evbill.api.app import create_app
from evbill.api.context import ApiContext
from evbill.config import Settings


def _second_process(client: TestClient, ctx: ApiContext) -> TestClient:
    """Another API process on the same database and keys (its own caches)."""
    app = create_app(Settings(data_dir=ctx.settings.data_dir), api_settings=ctx.api,
                     db=ctx.db, clock=ctx.clock, provider=ctx.provider)
    return TestClient(app)


def test_logout_revokes_the_bearer_token_everywhere(
    client: TestClient, world: World, ctx: ApiContext
) -> None:
    token = client.post("/api/v1/auth/token",
                        json={"email": "driver@example.org", "password": PASSWORD}).json()
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    other = _second_process(client, ctx)
    assert client.get("/api/v1/me", headers=auth).status_code == 200
    assert other.get("/api/v1/me", headers=auth).status_code == 200  # cached there now
    assert client.post("/api/v1/auth/logout", headers=auth).status_code == 204
    for process in (client, other):
        refused = process.get("/api/v1/me/sessions", headers=auth)
        assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    assert client.get("/api/v1/me", headers=bearer(world, "driver")).status_code == 200


def _portal_sign_in(client: TestClient, email: str) -> str:
    form = client.get("/portal/login").text
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', form)
    assert csrf is not None
    answer = client.post("/portal/login", data={"email": email, "password": PASSWORD,
                                                "csrf": csrf.group(1)},
                         follow_redirects=False)
    assert answer.status_code == 303
    return str(client.cookies["evbill_session"])


def test_portal_logout_makes_the_old_cookie_worthless(client: TestClient, world: World) -> None:
    cookie = _portal_sign_in(client, "driver@example.org")
    assert client.get("/portal/", follow_redirects=False).status_code == 200
    page = client.get("/portal/").text
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert csrf is not None
    out = client.post("/portal/logout", data={"csrf": csrf.group(1)},
                      follow_redirects=False)
    assert out.status_code == 303
    client.cookies.set("evbill_session", cookie)  # the attacker kept a copy
    replay = client.get("/portal/", follow_redirects=False)
    assert replay.status_code in (303, 307) and "/portal/login" in replay.headers["location"]


def test_password_change_ends_every_token_and_cookie(client: TestClient, world: World) -> None:
    cookie = _portal_sign_in(client, "driver2@example.org")
    old = bearer(world, "driver2")
    changed = client.post("/api/v1/me/password", headers=old,
                          json={"current_password": PASSWORD,
                                "new_password": "a-brand-new-passphrase"})
    assert changed.status_code == 200, changed.text
    assert client.get("/api/v1/me", headers=old).status_code == 401
    client.cookies.set("evbill_session", cookie)
    assert client.get("/portal/", follow_redirects=False).status_code in (303, 307)
    fresh = {"Authorization": f"Bearer {changed.json()['access_token']}"}
    assert client.get("/api/v1/me", headers=fresh).status_code == 200
    wrong = client.post("/api/v1/me/password", headers=fresh,
                        json={"current_password": PASSWORD, "new_password": "x" * 12})
    assert wrong.status_code == 401


def test_refund_key_reused_with_another_amount_is_refused(client: TestClient,
                                                          world: World) -> None:
    path = f"/api/v1/operator/payments/{world.payments['b']}/refunds"
    headers = {**bearer(world, "admin_b"), "Idempotency-Key": "refund-7f3a"}
    first = client.post(path, json={"amount": "1.00"}, headers=headers)
    assert first.status_code == 201
    again = client.post(path, json={"amount": "1.0"}, headers=headers)  # same request
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    other = client.post(path, json={"amount": "2.00"}, headers=headers)
    assert other.status_code == 409
    problem = other.json()
    assert problem["idempotency_key"] == "refund-7f3a" and "refund-7f3a" in problem["detail"]
    refunds = client.get("/api/v1/operator/payments", headers=bearer(world, "admin_b")).json()
    refunded = [c for c in refunds if c["reference"] == world.payments["b"]]
    assert refunded and refunded[0]["refunded"]["amount"] == "1.00"


def test_top_up_key_reused_with_another_amount_is_refused(client: TestClient,
                                                          world: World) -> None:
    headers = {**bearer(world, "driver"), "Idempotency-Key": "top-up-1"}
    body = {"amount": "5.00", "currency": "EUR", "payment_method_id": world.methods["driver"]}
    first = client.post("/api/v1/me/wallet/top-ups", json=body, headers=headers)
    assert first.status_code == 201
    assert client.post("/api/v1/me/wallet/top-ups", json=body,
                       headers=headers).json() == first.json()
    other = client.post("/api/v1/me/wallet/top-ups", json={**body, "amount": "50.00"},
                        headers=headers)
    assert other.status_code == 409 and other.json()["idempotency_key"] == "top-up-1"
    assert client.get("/api/v1/me/wallet", headers=bearer(world, "driver")).json() == \
        first.json()
