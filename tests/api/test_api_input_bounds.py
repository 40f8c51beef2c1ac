"""Hostile input at the HTTP edge (issue 11, F10 and F11): out-of-range ids, unknown time
zones, absurd dates and oversized bodies are 4xx problem details, never a 500, and errors
never echo more than a short, truncated value."""

from __future__ import annotations

import pytest
from api_world import World, bearer
from fastapi.testclient import TestClient

HUGE = "99999999999999999999999"


@pytest.mark.parametrize(("label", "method", "path"), [
    ("driver", "GET", f"/api/v1/me/sessions/{HUGE}"),
    ("driver", "GET", f"/api/v1/me/sessions/{HUGE}/live"),
    ("driver", "POST", f"/api/v1/me/sessions/{HUGE}/stop"),
    ("admin", "GET", f"/api/v1/operator/sessions/{HUGE}"),
    ("admin", "POST", f"/api/v1/operator/sessions/{HUGE}/stop"),
    ("driver", "DELETE", f"/api/v1/me/id-tokens/{HUGE}"),
    ("admin", "GET", "/api/v1/operator/revenue?tz=Nowhere/Zone"),
    ("admin", "GET", "/api/v1/operator/revenue?tz=../../etc/passwd"),
    ("admin", "GET", "/api/v1/operator/revenue?since=9999-12-31T23:59:59-23:00"),
    ("admin", "GET", "/api/v1/operator/revenue?until=0001-01-01T00:00:00%2B14:00"),
    ("admin", "GET", "/api/v1/operator/cdrs?since=9999-12-31T23:59:59-12:00"),
    ("driver", "GET", "/api/v1/me/sessions?since=9999-12-31T23:59:59-12:00"),
    ("admin", "GET", f"/api/v1/operator/stations/{'S' * 300}"),
    ("admin", "GET", "/api/v1/operator/reconciliation?since=0001-01-01T00:00:00Z"),
])  # fmt: skip
def test_out_of_range_parameters_are_problems_not_500(
    client: TestClient, world: World, label: str, method: str, path: str
) -> None:
    answer = client.request(method, path, headers=bearer(world, label))
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["status"] == answer.status_code


def test_a_time_zone_that_exists_is_still_accepted(client: TestClient, world: World) -> None:
    answer = client.get("/api/v1/operator/revenue?tz=Europe/Berlin", headers=bearer(world, "admin"))
    assert answer.status_code == 200


def test_oversized_body_is_refused_with_413_before_it_is_read(
    client: TestClient, world: World
) -> None:
    body = '{"amount": "' + "9" * (5 * 2**20) + '", "currency": "EUR", "payment_method_id": "x"}'
    answer = client.post("/api/v1/me/wallet/top-ups", content=body,
                         headers={**bearer(world, "driver"), "Content-Type": "application/json"})
    assert answer.status_code == 413
    assert answer.json()["type"].endswith("/too-large") and len(answer.text) < 500


def test_chunked_oversized_body_is_refused_too(client: TestClient, world: World) -> None:
    def chunks() -> object:
        for _ in range(200):
            yield b"9" * 1024

    answer = client.post("/api/v1/me/wallet/top-ups", content=chunks(),  # type: ignore[arg-type]
                         headers={**bearer(world, "driver"), "Content-Type": "application/json"})
    assert answer.status_code == 413


def test_errors_echo_only_a_short_value(client: TestClient, world: World) -> None:
    """A 60 KB amount (under the body limit) is refused without being echoed back whole."""
    value = "1" * 60_000
    answer = client.post("/api/v1/me/wallet/top-ups",
                         json={"amount": value, "currency": "EUR",
                               "payment_method_id": world.methods["driver"]},
                         headers=bearer(world, "driver"))
    assert 400 <= answer.status_code < 500
    assert len(answer.text) < 2_000 and value not in answer.text
