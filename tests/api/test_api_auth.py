"""Sign-up, sign-in, tokens, API keys, rate limiting, problem details and encryption at rest."""

from __future__ import annotations

import time

import pytest
from api_world import PASSWORD, World, bearer
from fastapi.testclient import TestClient
from sqlalchemy import select

from evbill.accounts.tables import UserRow
from evbill.api import auth as auth_module
from evbill.api.context import ApiContext

PROBLEM = "application/problem+json"


def test_sign_up_then_use_the_token(client: TestClient, ctx: ApiContext) -> None:
    r = client.post("/api/v1/auth/signup", json={"email": "Ana@Example.org", "name": "Ana Lima",
                                                 "password": "a long passphrase"})
    assert r.status_code == 201, r.text
    token = r.json()["access_token"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["email"] == "Ana@Example.org" and me["role"] == "driver"
    again = client.post("/api/v1/auth/token", json={"email": "ana@example.org",
                                                    "password": "a long passphrase"})
    assert again.status_code == 200 and again.json()["token_type"] == "Bearer"


def test_personal_fields_are_encrypted_at_rest(client: TestClient, ctx: ApiContext) -> None:
    client.post("/api/v1/auth/signup", json={"email": "bo@example.org", "name": "Bo Secret",
                                             "password": "a long passphrase"})
    with ctx.db.read_sessions() as s:
        row = s.scalars(select(UserRow)).one()
    stored = " ".join([row.email_enc, row.name_enc, row.email_lookup])
    assert "bo@example.org" not in stored and "Bo Secret" not in stored
    assert row.password_hash.startswith("$argon2id$")
    assert ctx.cipher.decrypt(row.name_enc) == "Bo Secret"


def test_duplicate_email_and_weak_password_are_problems(client: TestClient, world: World) -> None:
    dup = client.post("/api/v1/auth/signup", json={"email": "DRIVER@example.org", "name": "X",
                                                   "password": "a long passphrase"})
    assert dup.status_code == 409 and dup.headers["content-type"] == PROBLEM
    assert dup.json()["detail"].startswith("email:")
    weak = client.post("/api/v1/auth/signup", json={"email": "w@example.org", "name": "W",
                                                    "password": "short"})
    assert weak.status_code == 400 and weak.json()["detail"].startswith("password:")
    extra = client.post("/api/v1/auth/signup", json={"email": "w@example.org", "name": "W",
                                                     "password": "long enough!", "role": "x"})
    assert extra.status_code == 422 and extra.json()["errors"][0]["field"] == "body.role"


def test_sign_in_is_rate_limited(client: TestClient, world: World) -> None:
    for _ in range(3):
        bad = client.post("/api/v1/auth/token", json={"email": "driver@example.org",
                                                      "password": "wrong password"})
        assert bad.status_code == 401
    blocked = client.post("/api/v1/auth/token", json={"email": "driver@example.org",
                                                      "password": PASSWORD})
    assert blocked.status_code == 429 and blocked.headers["content-type"] == PROBLEM
    assert int(blocked.headers["retry-after"]) > 0


def test_bad_tokens_are_401_with_a_challenge(client: TestClient, world: World) -> None:
    r = client.get("/api/v1/me", headers={"Authorization": "Bearer forged.token.value"})
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    assert client.get("/api/v1/me", headers={"Authorization": "Basic abc"}).status_code == 401


def test_api_keys_authenticate_until_revoked(client: TestClient, world: World) -> None:
    made = client.post("/api/v1/operator/api-keys", json={"label": "erp", "role": "finance"},
                       headers=bearer(world, "admin"))
    assert made.status_code == 201
    key = {"Authorization": f"Bearer {made.json()['secret']}"}
    assert client.get("/api/v1/operator/revenue", headers=key).status_code == 200
    assert client.post("/api/v1/operator/api-keys", json={"label": "x"},
                       headers=key).status_code == 403  # finance keys cannot mint keys
    listed = client.get("/api/v1/operator/api-keys", headers=bearer(world, "admin")).json()
    assert all("secret" not in k or k["secret"] is None for k in listed)
    gone = client.delete(f"/api/v1/operator/api-keys/{made.json()['id']}",
                         headers=bearer(world, "admin"))
    assert gone.status_code == 204
    assert client.get("/api/v1/operator/revenue", headers=key).status_code == 401


def test_a_remembered_token_still_expires(client: TestClient, world: World, ctx: ApiContext,
                                          monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """Verified tokens are remembered per process; the expiry is checked on every use."""
    headers = bearer(world, "driver")
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    token = headers["Authorization"].split()[1]
    assert ctx.verified_tokens.get(token) is not None
    later = time.time() + ctx.api.token_ttl_s + 5
    monkeypatch.setattr(auth_module.time, "time", lambda: later)
    r = client.get("/api/v1/me", headers=headers)
    assert r.status_code == 401 and "expired" in r.json()["detail"]


def test_a_disabled_user_is_refused_once_the_user_cache_lapses(
    client: TestClient, world: World, ctx: ApiContext
) -> None:  # fmt: skip
    headers = bearer(world, "driver")
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    with ctx.db.sessions() as s, s.begin():
        user = s.get(UserRow, world.users["driver"].id)
        assert user is not None
        user.disabled = True
        user_id = user.id
    ctx.users.forget(user_id)  # what the TTL (EVBILL_API_USER_CACHE_S) does on its own
    assert client.get("/api/v1/me", headers=headers).status_code == 401
