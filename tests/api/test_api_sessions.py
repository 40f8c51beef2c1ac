"""Driver and operator session reads: keyset pages, date filters, live cost, start/stop."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from api_world import T0, Clock, World, bearer, tariff_json
from fastapi.testclient import TestClient
from sqlalchemy import select

from evbill.api.context import ApiContext
from evbill.api.schemas import SessionPage
from evbill.config import Settings
from evbill.sessions.commands import IdToken, MeterReading, RecordMeterValues, StartSession
from evbill.sessions.service import SessionService
from evbill.sessions.tariff_book import TariffBook
from evbill.store.outbox import StationCommandOutbox
from evbill.store.tables import SessionRow
from evbill.store.uow import UnitOfWork


def _start_many(world: World, count: int) -> None:
    service = SessionService(world.db, Settings(), clock=world.clock)
    for i in range(count):
        at = T0 - timedelta(days=10 - i)
        world.clock.now = at
        service.start(StartSession(station_id="A-1", evse_id=1, connector_id=1,
                                   id_token=IdToken("AA11BB22"), meter_start_wh=Decimal(0),
                                   started_at=at, transaction_ref=f"tx-{i}"))


def test_history_pages_through_everything_once(client: TestClient, world: World) -> None:
    _start_many(world, 7)
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/me/sessions", params=params,
                          headers=bearer(world, "driver")).json()
        seen += [(s["started_at"], s["id"]) for s in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 9 == len(set(seen))
    assert seen == sorted(seen, reverse=True)
    assert all(s["started_at"].endswith("Z") for s in page["items"])


def test_history_filters_by_date_and_refuses_bad_input(client: TestClient, world: World) -> None:
    _start_many(world, 3)
    r = client.get("/api/v1/me/sessions", headers=bearer(world, "driver"),
                   params={"since": T0.isoformat(), "until": (T0 + timedelta(days=2)).isoformat()})
    assert {s["id"] for s in r.json()["items"]} == {world.sessions["driver_done"],
                                                    world.sessions["driver_live"]}
    naive = client.get("/api/v1/me/sessions", params={"since": "2026-03-01T00:00:00"},
                       headers=bearer(world, "driver"))
    assert naive.status_code == 400 and naive.json()["detail"].startswith("since:")
    bad = client.get("/api/v1/me/sessions", params={"cursor": "zzz"},
                     headers=bearer(world, "driver"))
    assert bad.status_code == 400 and bad.json()["detail"].startswith("cursor:")


def test_rated_session_money_is_a_string_with_currency(client: TestClient, world: World) -> None:
    r = client.get(f"/api/v1/me/sessions/{world.sessions['driver_done']}",
                   headers=bearer(world, "driver")).json()
    assert r["total"] == {"amount": "7.14", "currency": "EUR"}  # 20 kWh × 0.30 × 1.19
    assert r["energy_kwh"] == "20.000"
    cdr = client.get(f"/api/v1/me/cdrs/{world.cdrs['driver_done']}",
                     headers=bearer(world, "driver")).json()
    assert cdr["total_excl_vat"] == {"amount": "6.00", "currency": "EUR"}
    assert cdr["ocpi"]["total_energy"] == "20.0000"


def test_live_cost_follows_new_meter_values(client: TestClient, world: World,
                                            clock: Clock) -> None:
    sid = world.sessions["driver_live"]
    url = f"/api/v1/me/sessions/{sid}/live"
    before = client.get(url, headers=bearer(world, "driver")).json()
    assert before["running"] and before["energy_kwh"] == "6.000"
    assert before["cost_so_far"] == {"amount": "2.14", "currency": "EUR"}  # 6 × 0.357
    clock.advance(minutes=5)
    SessionService(world.db, Settings(), clock=clock).meter_values(RecordMeterValues(
        station_id="A-1", evse_id=2, transaction_id=_tx(world, sid),
        readings=(MeterReading(at=clock.now, energy_wh=Decimal(13000)),)))
    after = client.get(url, headers=bearer(world, "driver")).json()
    assert after["energy_kwh"] == "12.000"
    assert after["cost_so_far"] == {"amount": "4.28", "currency": "EUR"}


def _tx(world: World, session_id: int) -> str:
    with world.db.read_sessions() as s:
        row = s.get(SessionRow, session_id)
        assert row is not None and row.transaction_id
        return row.transaction_id


def test_start_and_stop_go_through_the_station_outbox(client: TestClient, world: World) -> None:
    already = len(StationCommandOutbox(world.db).list("A-1"))  # the world's ad hoc start
    r = client.post("/api/v1/me/sessions", json={"station_id": "A-1", "evse_id": 1},
                    headers=bearer(world, "driver"))
    assert r.status_code == 202 and r.json()["action"] == "remote_start"
    busy = client.post("/api/v1/me/sessions", json={"station_id": "A-1", "evse_id": 2},
                       headers=bearer(world, "driver"))
    assert busy.status_code == 409
    sid = world.sessions["driver_live"]
    stop = client.post(f"/api/v1/me/sessions/{sid}/stop", headers=bearer(world, "driver"))
    assert stop.status_code == 202
    commands = StationCommandOutbox(world.db).list("A-1")[already:]
    assert [c.action for c in commands] == ["remote_start", "remote_stop"]
    assert commands[0].payload == {"evse_id": 1, "id_token": "AA11BB22",
                                   "id_token_type": "ISO14443"}
    assert commands[1].payload == {"transaction_id": _tx(world, sid)}
    done = client.post(f"/api/v1/me/sessions/{world.sessions['driver_done']}/stop",
                       headers=bearer(world, "driver"))
    assert done.status_code == 409


def test_operators_see_only_their_network(client: TestClient, world: World) -> None:
    ids = {s["id"] for s in client.get("/api/v1/operator/sessions",
                                       headers=bearer(world, "finance")).json()["items"]}
    with world.db.read_sessions() as s:
        on_a = set(s.scalars(select(SessionRow.id).where(SessionRow.station_id == "A-1")))
    assert ids == on_a and world.sessions["driver2_done"] not in ids
    assert {world.sessions["driver_done"], world.sessions["driver_live"]} <= ids
    stations = client.get("/api/v1/operator/stations", headers=bearer(world, "admin_b")).json()
    assert [s["id"] for s in stations] == ["B-1"]
    days = client.get("/api/v1/operator/revenue", headers=bearer(world, "admin"), params={
        "since": "2026-03-01T00:00:00+01:00", "until": "2026-03-04T00:00:00+01:00",
        "tz": "Europe/Berlin"}).json()
    assert [(d["day"], d["sessions"], d["revenue"]) for d in days] == [
        # driver 20 kWh (7.14) + ad hoc 5 kWh (1.785), summed exactly, shown rounded
        ("2026-03-01", 0, []), ("2026-03-02", 2, [{"amount": "8.93", "currency": "EUR"}]),
        ("2026-03-03", 0, [])]


def test_history_items_are_exactly_the_session_resource(client: TestClient, world: World) -> None:
    """The history page is serialized without building response models; each item must be
    byte-for-byte what the single-session endpoint (a validated `SessionOut`) returns."""
    headers = bearer(world, "driver")
    page = client.get("/api/v1/me/sessions", headers=headers).json()
    SessionPage.model_validate(page)
    assert page["items"]
    for item in page["items"]:
        one = client.get(f"/api/v1/me/sessions/{item['id']}", headers=headers).json()
        assert one == item
    rated = next(i for i in page["items"] if i["id"] == world.sessions["driver_done"])
    assert set(rated["total"]) == {"amount", "currency"} and rated["links"]["cdr"]


def test_live_tariff_choice_is_remembered_for_a_while(client: TestClient, world: World,
                                                      ctx: ApiContext) -> None:  # fmt: skip
    """The live view remembers which tariff a running session uses (parsing and looking it up
    on every poll is most of a poll's cost). An assignment back-dated before the session's
    start shows once the remembered choice lapses (EVBILL: 60 s; forgotten here)."""
    sid = world.sessions["driver_live"]
    url = f"/api/v1/me/sessions/{sid}/live"
    first = client.get(url, headers=bearer(world, "driver")).json()
    assert first["tariff_id"] == "TA" and first["cost_so_far"]["amount"] == "2.14"
    TariffBook(world.db).add(tariff_json("TA2", "0.60"), now=T0, station_id="A-1",
                             valid_from=T0 - timedelta(days=30))  # fmt: skip
    remembered = client.get(url, headers=bearer(world, "driver")).json()
    assert remembered["tariff_id"] == "TA"
    ctx.live_tariffs.forget(sid)
    fresh = client.get(url, headers=bearer(world, "driver")).json()
    assert fresh["tariff_id"] == "TA2"
    assert fresh["cost_so_far"] == {"amount": "4.28", "currency": "EUR"}  # 6 kWh × 0.714
    with UnitOfWork(world.db, read_only=True) as uow:  # one parsed tariff, shared by polls
        row = uow.sessions.get(sid)
        assert row is not None
        assert ctx.live_tariffs.tariff(uow, row) is ctx.live_tariffs.tariff(uow, row)


def test_history_query_problems_and_documentation(client: TestClient, world: World) -> None:
    """The history endpoint parses its own query; its problems and its OpenAPI parameters
    are those FastAPI would give."""
    headers = bearer(world, "driver")
    for params, field in (({"limit": "ten"}, "query.limit"), ({"since": "yesterday"},
                          "query.since"), ({"state": "x" * 17}, "query.state")):  # fmt: skip
        r = client.get("/api/v1/me/sessions", params=params, headers=headers)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in r.json()["errors"]] == [field]
    too_many = client.get("/api/v1/me/sessions", params={"limit": 500}, headers=headers)
    assert too_many.status_code == 400 and too_many.json()["detail"].startswith("limit:")
    zulu = client.get("/api/v1/me/sessions", params={"since": "2020-01-01T00:00:00Z"},
                      headers=headers)  # fmt: skip
    assert zulu.status_code == 200 and zulu.json()["items"]
    documented = client.get("/openapi.json").json()["paths"]["/api/v1/me/sessions"]["get"]
    assert [p["name"] for p in documented["parameters"]] == ["limit", "cursor", "since",
                                                             "until", "state"]
    assert documented["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SessionPage"}


def test_a_new_cards_sessions_show_in_history(client: TestClient, world: World,
                                              ctx: ApiContext) -> None:  # fmt: skip
    """The driver's card list is remembered briefly per process; adding a card here forgets
    it at once, so the new card's sessions are in the very next page."""
    headers = bearer(world, "driver")
    before = {s["id"] for s in client.get("/api/v1/me/sessions", headers=headers).json()["items"]}
    assert ctx.cards.get(world.users["driver"].token_account) is not None  # remembered
    added = client.post("/api/v1/me/id-tokens", headers=headers, json={
        "uid": "EE55FF66", "verification_code": world.claim_codes["EE55FF66"]})
    assert added.status_code == 201, added.text
    service = SessionService(world.db, Settings(), clock=world.clock)
    started = service.start(StartSession(station_id="A-1", evse_id=1, connector_id=1,
                                         id_token=IdToken("EE55FF66"), meter_start_wh=Decimal(0),
                                         started_at=world.clock.now, transaction_ref="new-card"))
    after = {s["id"] for s in client.get("/api/v1/me/sessions", headers=headers).json()["items"]}
    with world.db.read_sessions() as s:
        new_id = s.scalar(select(SessionRow.id).where(
            SessionRow.transaction_id == started.transaction_id))  # fmt: skip
    assert after - before == {new_id}
