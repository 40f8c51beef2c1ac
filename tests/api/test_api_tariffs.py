"""Operator tariffs: exact decimals in, versions, ownership across networks, live preview."""

from __future__ import annotations

from api_world import World, bearer
from fastapi.testclient import TestClient

from evbill.store.tables import TariffRow

TARIFF = """{"tariff": {"country_code": "DE", "party_id": "EVB", "id": "%s", "currency": "EUR",
 "last_updated": "%s", "elements": [{"price_components": [
   {"type": "ENERGY", "price": 0.31, "vat": 19.0, "step_size": 1},
   {"type": "PARKING_TIME", "price": 6.00, "vat": 19.0, "step_size": 60}]}]},
 "station_id": "%s"}"""


def _post(client: TestClient, world: World, who: str, tid: str, updated: str,
          station: str = "A-1") -> int:
    r = client.post("/api/v1/operator/tariffs", content=TARIFF % (tid, updated, station),
                    headers={**bearer(world, who), "Content-Type": "application/json"})
    return r.status_code


def test_new_versions_are_stored_verbatim_exact(client: TestClient, world: World) -> None:
    assert _post(client, world, "admin", "TA", "2026-02-01T00:00:00Z") == 201
    assert _post(client, world, "admin", "TA", "2026-02-15T00:00:00Z") == 201
    versions = client.get("/api/v1/operator/tariffs/TA", headers=bearer(world, "finance")).json()
    assert [v["version"] for v in versions] == ["2026-01-01T00:00:00+00:00",
                                                "2026-02-01T00:00:00+00:00",
                                                "2026-02-15T00:00:00+00:00"]
    assert versions[-1]["prices"] == ["Energy: 0.3689 EUR per kWh",
                                      "Parking: 0.119 EUR per minute"]
    with world.db.read_sessions() as s:
        stored = s.query(TariffRow).filter_by(version="2026-02-15T00:00:00+00:00").one()
    assert '"price":0.31,' in stored.ocpi_json and '"price":6.00,' in stored.ocpi_json


def test_tariffs_belong_to_one_network(client: TestClient, world: World) -> None:
    assert _post(client, world, "admin_b", "TA", "2026-02-01T00:00:00Z", "B-1") == 409
    assert _post(client, world, "admin_b", "NEW", "2026-02-01T00:00:00Z", "A-1") == 404
    assert _post(client, world, "finance", "TA", "2026-02-01T00:00:00Z") == 403
    assert client.get("/api/v1/operator/tariffs/TA",
                      headers=bearer(world, "admin_b")).status_code == 404


def test_preview_prices_a_sample_session(client: TestClient, world: World) -> None:
    body = (TARIFF % ("DRAFT", "2026-02-01T00:00:00Z", "A-1")).replace(
        '"station_id": "A-1"', '"sample": {"start": "2026-03-02T08:00:00Z", "energy_kwh": "20",'
        ' "charging_minutes": 60, "parking_minutes": 30}')
    r = client.post("/api/v1/operator/tariffs/preview", content=body,
                    headers={**bearer(world, "finance"), "Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    out = r.json()
    # 20 kWh × 0.31 = 6.20; parking 0.5 h × 6.00 = 3.00; + 19 % VAT
    assert out["total_excl_vat"] == {"amount": "9.20", "currency": "EUR"}
    assert out["total_incl_vat"] == {"amount": "10.95", "currency": "EUR"}
    assert [line["kind"] for line in out["lines"]] == ["ENERGY", "PARKING_TIME"]
    bad = client.post("/api/v1/operator/tariffs/preview", headers=bearer(world, "finance"),
                      content=body.replace('"ENERGY"', '"ENERGIE"'))
    assert bad.status_code in (400, 422)
