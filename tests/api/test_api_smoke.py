"""First checks: the world builds, a driver reads its history and live session."""

from __future__ import annotations

from api_world import World
from fastapi.testclient import TestClient

from conftest import bearer


def test_driver_history_and_live(client: TestClient, world: World) -> None:
    r = client.get("/api/v1/me/sessions", headers=bearer(world, "driver"))
    assert r.status_code == 200, r.text
    print(r.json())
    live = client.get(f"/api/v1/me/sessions/{world.sessions['driver_live']}/live",
                      headers=bearer(world, "driver"))
    print(live.json())
    assert live.status_code == 200
