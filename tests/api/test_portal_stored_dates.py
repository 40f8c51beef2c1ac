"""Stored data never makes a page answer 500: a session with an extreme start time (written
before timestamps were range-checked, or by hand) still shows on the driver's home page,
history and the operator's session list."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from api_world import PASSWORD, World, bearer
from fastapi.testclient import TestClient
from sqlalchemy import update

from evbill.store.tables import SessionRow


def _sign_in(client: TestClient, email: str) -> None:
    page = client.get("/portal/login")
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert match
    r = client.post("/portal/login", follow_redirects=False,
                    data={"email": email, "password": PASSWORD, "csrf": match.group(1)})
    assert r.status_code == 303


@pytest.mark.parametrize("extreme", [datetime(9999, 12, 31, 23, 59, tzinfo=UTC),
                                     datetime(1, 1, 1, 0, 0, tzinfo=UTC)])
def test_pages_answer_with_an_extreme_stored_date(
    client: TestClient, world: World, extreme: datetime
) -> None:
    with world.db.sessions() as s, s.begin():
        s.execute(update(SessionRow).where(SessionRow.id == world.sessions["driver_done"])
                  .values(started_at=extreme, stopped_at=extreme, state="held",
                          hold_reason="timestamp in the future"))
    _sign_in(client, "driver@example.org")
    for path in ("/portal/", "/portal/sessions", "/portal/invoices"):
        page = client.get(path)
        assert page.status_code == 200, (path, page.text[:300])
    client.cookies.clear()
    _sign_in(client, "admin@example.org")
    for path in ("/portal/operator", "/portal/operator/payments"):
        page = client.get(path)
        assert page.status_code == 200, (path, page.text[:300])
    dashboard = client.get("/portal/operator").text
    assert "Held for review" in dashboard and "timestamp in the future" in dashboard
    api = client.get("/api/v1/me/sessions", headers=bearer(world, "driver"))
    assert api.status_code == 200
    ops = client.get("/api/v1/operator/sessions", headers=bearer(world, "admin"))
    assert ops.status_code == 200
    held = client.get("/api/v1/operator/sessions", params={"state": "held"},
                      headers=bearer(world, "admin")).json()["items"]
    assert [(i["id"], i["state"]) for i in held] == [(world.sessions["driver_done"], "held")]
