"""Recorded message sequences in the styles of real firmware, sent over a real socket to the
gateway on the real session service and store (SQLite and PostgreSQL).

Each style ends in a rated session with exactly the energy the meter counted; a register
reset and the attacks from the money-trust issue end held or refused, never billed; lost
2.x messages, a silent session and a 1.6 reboot are flagged instead of closed quietly.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from ocpp_kit import exchange, gateway_config, raw
from sqlalchemy import func, select

from evbill.accounts.stations import StationRegistry
from evbill.accounts.tokens import TokenRegistry
from evbill.config import Settings
from evbill.ocpp.server import Gateway
from evbill.sessions.commands import SessionDetail
from evbill.sessions.service import SessionService
from evbill.sessions.tariff_book import TariffBook
from evbill.store.database import Database
from evbill.store.tables import CdrRow, SessionRow

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CARD, BLOCKED = "04A2B3C4", "0BADCAFE"
TARIFF = {"country_code": "DE", "party_id": "EVB", "id": "AC", "currency": "EUR",
          "last_updated": "2026-01-01T00:00:00Z",
          "elements": [{"price_components": [
              {"type": "ENERGY", "price": 0.40, "vat": 19.0, "step_size": 1}]}]}


def ts(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[tuple[Database, Clock]]:
    db = Database.open(database_url)
    stations = StationRegistry(db)
    for sid in ("FW-16", "FW-16B", "FW-2"):
        stations.add(sid, time_zone="Europe/Berlin", now=T0 - timedelta(days=30), evses=2)
    tokens = TokenRegistry(db)
    tokens.add(CARD, now=T0, account="driver-1")
    tokens.add(BLOCKED, now=T0, status="Blocked")
    TariffBook(db).add(json.dumps(TARIFF), now=T0, default=True,
                       valid_from=T0 - timedelta(days=60))  # fmt: skip
    try:
        yield db, Clock()
    finally:
        db.dispose()


@pytest.fixture
async def live(world: tuple[Database, Clock], tmp_path: Path) -> AsyncIterator[Gateway]:
    db, clock = world
    settings = Settings(data_dir=tmp_path, session_silence=3600)
    async with Gateway(gateway_config(), SessionService(db, settings, clock=clock),
                       clock=clock) as gw:
        yield gw


class Frames:
    """A station replaying a recorded sequence: CALLs in order, answers collected."""

    def __init__(self, ws: Any) -> None:
        self.ws, self.n = ws, 0

    async def call(self, action: str, payload: dict[str, Any]) -> Any:
        self.n += 1
        answer = await exchange(self.ws, [2, f"m{self.n}", action, payload])
        assert answer[1] == f"m{self.n}"
        return answer


def _ok(answer: Any) -> dict[str, Any]:
    assert answer[0] == 3, answer
    result: dict[str, Any] = answer[2]
    return result


def _mv16(tx: int, at: str, *values: dict[str, Any]) -> dict[str, Any]:
    return {"connectorId": 1, "transactionId": tx,
            "meterValue": [{"timestamp": at, "sampledValue": list(values)}]}


def _detail(gw: Gateway, station_id: str, tx: object) -> SessionDetail:
    service = gw._bridge.service
    assert isinstance(service, SessionService)
    detail = service.find_session(station_id, str(tx))
    assert detail is not None
    return detail


async def _run16(gw: Gateway, station_id: str, meter_start: int, samples: list[Any],
                 meter_stop: int, stop_at: float = 30, connector: int = 1,
                 tag: str = CARD) -> tuple[int, dict[str, Any]]:
    async with raw(gw, station_id, "ocpp1.6") as ws:
        f = Frames(ws)
        _ok(await f.call("BootNotification", {"chargePointVendor": "V",
                                              "chargePointModel": "M"}))
        started = _ok(await f.call("StartTransaction", {
            "connectorId": connector, "idTag": tag, "meterStart": meter_start,
            "timestamp": ts(0)}))
        tx = started["transactionId"]
        for minutes, values in samples:
            _ok(await f.call("MeterValues", _mv16(tx, ts(minutes), *values)))
        _ok(await f.call("StopTransaction", {"transactionId": tx, "meterStop": meter_stop,
                                             "timestamp": ts(stop_at), "idTag": tag}))
    return tx, started["idTagInfo"]


def _register(value: str, **kw: Any) -> dict[str, Any]:
    return {"value": value, "measurand": "Energy.Active.Import.Register", **kw}


# --- firmware styles ---------------------------------------------------------------------

async def test_decimal_wh_samples_and_an_integer_meter_stop(
        live: Gateway, world: tuple[Database, Clock]) -> None:
    world[1].now = T0 + timedelta(minutes=32)
    # the car is full at minute 30 (66.25 Wh); unplugged a minute later, 1.6 meterStop 66
    tx, _ = await _run16(live, "FW-16", 0, [
        (10, [_register("22.08", unit="Wh", context="Sample.Periodic")]),
        (20, [_register("44.17", unit="Wh", context="Sample.Periodic")]),
        (30, [_register("66.25", unit="Wh", context="Sample.Periodic")]),
    ], meter_stop=66, stop_at=31)
    detail = _detail(live, "FW-16", tx)
    assert detail.session.state == "rated", detail.review_note
    assert detail.session.energy_wh == Decimal("66.25")
    assert detail.cdr is not None and detail.cdr.total_energy_wh == Decimal("66.25")


async def test_kwh_samples_with_their_unit(live: Gateway, world: tuple[Database, Clock]) -> None:
    world[1].now = T0 + timedelta(minutes=31)
    tx, _ = await _run16(live, "FW-16", 12_000, [
        (10, [_register("12.350", unit="kWh", context="Sample.Periodic"),
              {"value": "2.1", "measurand": "Power.Active.Import", "unit": "kW"}]),
        (20, [_register("12.70", unit="kWh")]),
    ], meter_stop=13_050)
    detail = _detail(live, "FW-16", tx)
    assert detail.session.state == "rated" and detail.session.energy_wh == 1050
    assert [s.energy_wh for s in detail.samples if s.context == "Sample.Periodic"] == \
        [Decimal(12_350), Decimal(12_700)]


async def test_integer_only_readings(live: Gateway, world: tuple[Database, Clock]) -> None:
    world[1].now = T0 + timedelta(minutes=31)
    tx, _ = await _run16(live, "FW-16", 1000, [(10, [{"value": "1500"}]),
                                              (20, [{"value": "2000"}])], meter_stop=2500)
    detail = _detail(live, "FW-16", tx)
    assert detail.session.state == "rated" and detail.session.energy_wh == 1500


async def test_v201_wh_with_a_multiplier(live: Gateway, world: tuple[Database, Clock]) -> None:
    world[1].now = T0 + timedelta(minutes=31)

    def event(kind: str, seq: int, minutes: float, value: str, context: str,
              **kw: Any) -> dict[str, Any]:
        return {"eventType": kind, "timestamp": ts(minutes), "triggerReason": "MeterValuePeriodic",
                "seqNo": seq, "transactionInfo": {"transactionId": "FW-TX", **kw.pop("info", {})},
                "meterValue": [{"timestamp": ts(minutes), "sampledValue": [{
                    "value": float(value), "context": context,
                    "unitOfMeasure": {"unit": "Wh", "multiplier": 3}}]}], **kw}

    async with raw(live, "FW-2", "ocpp2.0.1") as ws:
        f = Frames(ws)
        _ok(await f.call("TransactionEvent", event(
            "Started", 0, 0, "1.5", "Transaction.Begin", evse={"id": 1, "connectorId": 1},
            idToken={"idToken": CARD, "type": "ISO14443"})))
        _ok(await f.call("TransactionEvent", event("Updated", 1, 15, "2.0", "Sample.Periodic")))
        _ok(await f.call("TransactionEvent", event("Ended", 2, 30, "2.5", "Transaction.End",
                                                   info={"stoppedReason": "Local"})))
    detail = _detail(live, "FW-2", "FW-TX")
    assert detail.session.state == "rated", detail.review_note
    assert detail.session.energy_wh == 1000 and detail.session.flags == ()


async def test_a_register_reset_is_held_not_billed(
        live: Gateway, world: tuple[Database, Clock]) -> None:
    world[1].now = T0 + timedelta(minutes=31)
    tx, _ = await _run16(live, "FW-16", 5000, [(10, [{"value": "5200"}]),
                                              (20, [{"value": "10"}])], meter_stop=40)
    detail = _detail(live, "FW-16", tx)
    assert detail.session.state == "held" and detail.cdr is None
    assert "register fell from 5200 Wh to 10 Wh" in (detail.session.hold_reason or "")


# --- the money-trust attacks ---------------------------------------------------------------

async def test_meter_stop_2147483647_one_minute_in_is_held(
        live: Gateway, world: tuple[Database, Clock]) -> None:
    world[1].now = T0 + timedelta(minutes=2)
    tx, _ = await _run16(live, "FW-16", 100, [], meter_stop=2147483647, stop_at=1)
    detail = _detail(live, "FW-16", tx)
    assert detail.session.state == "held" and detail.cdr is None
    assert "more than the EVSE's maximum" in (detail.session.hold_reason or "")


async def test_a_start_in_the_year_9999_is_refused_and_stores_nothing(
        live: Gateway, world: tuple[Database, Clock]) -> None:
    async with raw(live, "FW-16", "ocpp1.6") as ws:
        f = Frames(ws)
        for tag in (CARD, BLOCKED):
            answer = await f.call("StartTransaction", {
                "connectorId": 1, "idTag": tag, "meterStart": 0,
                "timestamp": "9999-12-31T23:59:59Z"})
            assert answer[0] == 4 and answer[2] == "PropertyConstraintViolation", answer
            assert "out of range" in json.dumps(answer[4])
        _ok(await f.call("Heartbeat", {}))  # the station is still served
    with world[0].read_sessions() as s:
        assert s.scalar(select(func.count()).select_from(SessionRow)) == 0


async def test_blocked_tag_and_connector_99_create_no_billable_session(
        live: Gateway, world: tuple[Database, Clock]) -> None:
    world[1].now = T0 + timedelta(minutes=31)
    blocked_tx, blocked = await _run16(live, "FW-16", 0, [(10, [{"value": "500"}])], 1000,
                                       tag=BLOCKED)
    unknown_tx, unknown = await _run16(live, "FW-16", 0, [], 1000, connector=99)
    assert blocked["status"] == "Blocked" and unknown["status"] == "Invalid"
    for tx in (blocked_tx, unknown_tx):
        assert _detail(live, "FW-16", tx).session.state == "refused"
    with world[0].read_sessions() as s:
        assert s.scalar(select(func.count()).select_from(CdrRow)) == 0
        states = set(s.scalars(select(SessionRow.state)))
    assert states == {"refused"}


async def test_a_stop_for_another_stations_transaction_changes_nothing(
        live: Gateway, world: tuple[Database, Clock]) -> None:
    world[1].now = T0 + timedelta(minutes=31)
    async with raw(live, "FW-16", "ocpp1.6") as ws:
        started = _ok(await Frames(ws).call("StartTransaction", {
            "connectorId": 1, "idTag": CARD, "meterStart": 0, "timestamp": ts(0)}))
    tx = started["transactionId"]
    async with raw(live, "FW-16B", "ocpp1.6") as ws:
        f = Frames(ws)
        answer = _ok(await f.call("StopTransaction", {"transactionId": tx, "meterStop": 99_999,
                                                      "timestamp": ts(30)}))
        _ok(await f.call("MeterValues", _mv16(tx, ts(5), {"value": "77777"})))
    assert answer == {}
    with world[0].read_sessions() as s:
        rows = s.scalars(select(SessionRow)).all()
    assert [(r.station_id, r.state, r.meter_stop_wh) for r in rows] == [
        ("FW-16", "charging", None)]


# --- transaction gaps ----------------------------------------------------------------------

def _event2(kind: str, seq: int, minutes: float, wh: str, **kw: Any) -> dict[str, Any]:
    context = {"Started": "Transaction.Begin", "Ended": "Transaction.End"}.get(
        kind, "Sample.Periodic")
    return {"eventType": kind, "timestamp": ts(minutes), "seqNo": seq,
            "triggerReason": "MeterValuePeriodic" if kind == "Updated" else "EVDeparted",
            "transactionInfo": {"transactionId": "GAP-1", **kw.pop("info", {})},
            "meterValue": [{"timestamp": ts(minutes), "sampledValue": [
                {"value": float(wh), "context": context}]}], **kw}


async def test_an_ended_that_never_arrived_holds_the_session(
        live: Gateway, world: tuple[Database, Clock]) -> None:
    clock = world[1]
    async with raw(live, "FW-2", "ocpp2.0.1") as ws:
        f = Frames(ws)
        clock.now = T0
        _ok(await f.call("TransactionEvent", _event2(
            "Started", 0, 0, "0", evse={"id": 1, "connectorId": 1},
            idToken={"idToken": CARD, "type": "ISO14443"})))
        clock.now = T0 + timedelta(minutes=1)
        _ok(await f.call("TransactionEvent", _event2("Updated", 1, 1, "40")))
        # seqNo 2, the Ended with 75.64 Wh, was lost; the station goes on with 3 to 5
        for seq in (3, 4, 5):
            clock.now = T0 + timedelta(minutes=seq)
            _ok(await f.call("TransactionEvent", _event2("Updated", seq, seq, "75.64")))
        assert "seq_gap" in _detail(live, "FW-2", "GAP-1").session.flags
        clock.now = T0 + timedelta(minutes=9)
        _ok(await f.call("TransactionEvent", _event2("Ended", 6, 9, "504",
                                                     info={"stoppedReason": "Local"})))
    detail = _detail(live, "FW-2", "GAP-1")
    assert detail.session.state == "held" and detail.cdr is None
    assert "seqNo 2 never arrived" in (detail.session.hold_reason or "")


async def test_a_stop_after_a_long_silence_holds_the_session(
        live: Gateway, world: tuple[Database, Clock]) -> None:
    clock = world[1]
    async with raw(live, "FW-2", "ocpp2.0.1") as ws:
        f = Frames(ws)
        _ok(await f.call("TransactionEvent", _event2(
            "Started", 0, 0, "0", evse={"id": 1, "connectorId": 1},
            idToken={"idToken": CARD, "type": "ISO14443"})))
        clock.now = T0 + timedelta(hours=2)  # silence 1 h configured
        _ok(await f.call("TransactionEvent", _event2("Ended", 1, 120, "3000",
                                                     info={"stoppedReason": "Local"})))
    detail = _detail(live, "FW-2", "GAP-1")
    assert detail.session.state == "held" and "silent" in detail.session.flags


async def test_a_1_6_reboot_closes_open_transactions_at_their_last_reading(
        live: Gateway, world: tuple[Database, Clock]) -> None:
    clock = world[1]
    async with raw(live, "FW-16", "ocpp1.6") as ws:
        f = Frames(ws)
        boot = {"chargePointVendor": "V", "chargePointModel": "M"}
        _ok(await f.call("BootNotification", boot))
        tx = _ok(await f.call("StartTransaction", {"connectorId": 1, "idTag": CARD,
                                                   "meterStart": 1000,
                                                   "timestamp": ts(0)}))["transactionId"]
        clock.now = T0 + timedelta(minutes=10)
        _ok(await f.call("MeterValues", _mv16(tx, ts(10), {"value": "2500"})))
        clock.now = T0 + timedelta(minutes=20)
        _ok(await f.call("BootNotification", boot))  # rebooted: the transaction is gone
    detail = _detail(live, "FW-16", tx)
    assert detail.session.state == "rated" and "closed_by_reboot" in detail.session.flags
    assert detail.session.stopped_at == T0 + timedelta(minutes=10)
    assert detail.session.energy_wh == 1500
