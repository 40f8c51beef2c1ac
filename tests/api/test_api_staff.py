"""An operator admin manages the staff of their own network through the API (create, list,
disable), with the drivers' password rules, and never touches another network's staff."""

from __future__ import annotations

from api_world import PASSWORD, World, bearer
from fastapi.testclient import TestClient

NEW = {"email": "new.finance@example.org", "name": "Nina", "password": "long enough password",
       "role": "finance"}  # fmt: skip


def test_an_admin_creates_lists_and_disables_staff_of_their_network(
    client: TestClient, world: World
) -> None:
    admin = bearer(world, "admin")
    created = client.post("/api/v1/operator/users", json=NEW, headers=admin)
    assert created.status_code == 201, created.text
    user = created.json()
    assert (user["role"], user["operator_id"], user["disabled"]) == ("finance", "op-a", False)
    token = client.post("/api/v1/auth/token", json={"email": NEW["email"],
                                                    "password": NEW["password"]})  # fmt: skip
    assert token.status_code == 200
    mine = client.get("/api/v1/operator/users", headers=admin).json()
    assert {u["email"] for u in mine} == {"admin@example.org", "finance@example.org",
                                          "clerk@example.org", NEW["email"]}
    theirs = client.get("/api/v1/operator/users", headers=bearer(world, "admin_b")).json()
    assert {u["email"] for u in theirs} == {"admin_b@example.org", "finance_b@example.org"}

    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    other = client.post(f"/api/v1/operator/users/{user['id']}/disable",
                        headers=bearer(world, "admin_b"))
    assert other.status_code == 404  # another network's user does not exist for them
    disabled = client.post(f"/api/v1/operator/users/{user['id']}/disable", headers=admin)
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    assert client.get("/api/v1/me", headers=headers).status_code == 401  # at once
    again = client.post("/api/v1/auth/token", json={"email": NEW["email"],
                                                    "password": NEW["password"]})  # fmt: skip
    assert again.status_code == 401
    repeat = client.post(f"/api/v1/operator/users/{user['id']}/disable", headers=admin)
    assert repeat.status_code == 200  # idempotent


def test_staff_requests_that_are_refused(client: TestClient, world: World) -> None:
    admin = bearer(world, "admin")
    weak = client.post("/api/v1/operator/users", json={**NEW, "password": "short"},
                       headers=admin)  # fmt: skip
    assert weak.status_code == 400 and "password: must be 10" in weak.json()["detail"]
    driver = client.post("/api/v1/operator/users", json={**NEW, "role": "driver"}, headers=admin)
    assert driver.status_code == 422
    taken = client.post("/api/v1/operator/users", headers=admin,
                        json={**NEW, "email": "driver@example.org"})  # fmt: skip
    assert taken.status_code == 409
    finance = client.post("/api/v1/operator/users", json=NEW, headers=bearer(world, "finance"))
    assert finance.status_code == 403
    driver_user = world.users["driver"].id
    assert client.post(f"/api/v1/operator/users/{driver_user}/disable",
                       headers=admin).status_code == 404  # drivers are not staff
    me = world.users["admin"].id
    assert client.post(f"/api/v1/operator/users/{me}/disable", headers=admin).status_code == 409
    assert client.post("/api/v1/auth/token", json={"email": "admin@example.org",
                                                   "password": PASSWORD}).status_code == 200
