"""A driver's billing profile through the API: null until set, a bad VAT id or country is a
400 problem naming the field, a set profile is returned and names the customer on the next
documents; setting it twice is idempotent."""

from __future__ import annotations

from api_world import World, bearer
from fastapi.testclient import TestClient

PROFILE = {"name": "Erika Mustermann", "address": "Hauptstraße 5", "postcode": "80331",
           "city": "München", "country": "de", "vat_id": "DE 123 456 789"}


def test_profile_round_trip(client: TestClient, world: World) -> None:
    auth = bearer(world, "driver")
    empty = client.get("/api/v1/me/profile", headers=auth).json()
    assert (empty["profile"], empty["documents"]) == (None, "simplified")
    r = client.put("/api/v1/me/profile", headers=auth, json=PROFILE)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["profile"]["country"], body["profile"]["vat_id"]) == ("DE", "DE123456789")
    assert body["documents"] == "full"
    assert body["account"] == world.users["driver"].token_account
    again = client.put("/api/v1/me/profile", headers=auth, json=PROFILE)
    assert again.json() == body
    assert client.get("/api/v1/me/profile", headers=auth).json() == body
    other = client.get("/api/v1/me/profile", headers=bearer(world, "driver2"))
    assert other.json()["profile"] is None  # each driver sees only their own


def test_bad_profile_is_a_problem_naming_the_field(client: TestClient, world: World) -> None:
    auth = bearer(world, "driver")
    r = client.put("/api/v1/me/profile", headers=auth, json={**PROFILE, "vat_id": "12345"})
    assert r.status_code == 400 and "vat_id" in r.json()["detail"]
    r = client.put("/api/v1/me/profile", headers=auth, json={**PROFILE, "country": "1X"})
    assert r.status_code == 400 and "country" in r.json()["detail"]
    assert client.get("/api/v1/me/profile", headers=auth).json()["profile"] is None
