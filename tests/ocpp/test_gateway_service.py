"""The gateway on the real `SessionService` and store (SQLite and PostgreSQL).

Stations speak through real sockets; what they report ends up as sessions in the database,
and operator commands travel through the `station_commands` outbox, also from another
process (the `evbill remote-start` CLI).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from ocpp.v16 import call as call16
from ocpp.v21 import call as call21
from ocpp.v201 import call as call201
from ocpp_kit import exchange, gateway_config, raw, station

from evbill.config import Settings
from evbill.ocpp.auth import StoreCredentials
from evbill.ocpp.outbox import REMOTE_START, remote_start_payload
from evbill.ocpp.server import Gateway
from evbill.sessions.commands import IdToken
from evbill.sessions.service import SessionService
from evbill.store.database import Database
from evbill.store.outbox import StationCommand, StationCommandOutbox
from evbill.store.tables import IdTokenRow

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
V2_CALLS = {"ocpp2.0.1": call201, "ocpp2.1": call21}


@pytest.fixture
def store(database_url: str, tmp_path: Path) -> Iterator[tuple[Database, Settings]]:
    settings = Settings(database_url=database_url, data_dir=tmp_path, auto_register_stations=True)
    db = Database.open(database_url)
    with db.sessions() as s, s.begin():
        s.add(IdTokenRow(value="04A2B3C4", type="ISO14443", status="Accepted", created_at=NOW))
    try:
        yield db, settings
    finally:
        db.dispose()


@pytest.fixture
async def live(store: tuple[Database, Settings]) -> AsyncIterator[Gateway]:
    db, settings = store
    service = SessionService(db, settings)
    gw = Gateway(
        gateway_config(), service, credentials=StoreCredentials(db),
        outbox=StationCommandOutbox(db),
    )  # fmt: skip
    async with gw:
        yield gw


def _service(gw: Gateway) -> SessionService:
    service = gw._bridge.service
    assert isinstance(service, SessionService)
    return service


async def test_v16_session_is_recorded(live: Gateway) -> None:
    async with station(live, "CS-16", "ocpp1.6") as cp:
        boot = await cp.call(call16.BootNotification("Wallbox", "ACME"))
        auth = await cp.call(call16.Authorize(id_tag="04a2b3c4"))
        start_msg = call16.StartTransaction(1, "04A2B3C4", 1000, "2026-03-01T12:00:00Z")
        started = await cp.call(start_msg)
        again = await cp.call(start_msg)  # a retransmission gets the first answer
        await cp.call(
            call16.MeterValues(
                connector_id=1,
                transaction_id=started.transaction_id,
                meter_value=[{"timestamp": "2026-03-01T12:15:00Z",
                              "sampledValue": [{"value": "3.5", "unit": "kWh"}]}],
            )
        )  # fmt: skip
        await cp.call(
            call16.StopTransaction(
                meter_stop=6000, timestamp="2026-03-01T12:30:00Z",
                transaction_id=started.transaction_id, reason="Local",
            )
        )  # fmt: skip
    assert (boot.status, auth.id_tag_info["status"]) == ("Accepted", "Accepted")
    assert again.transaction_id == started.transaction_id
    detail = _service(live).find_session("CS-16", str(started.transaction_id))
    assert detail is not None
    assert detail.session.evse_id == 1
    assert detail.session.stopped_at == datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    assert detail.session.energy_wh == Decimal(5000)
    assert Decimal(3500) in [s.energy_wh for s in detail.samples]


@pytest.mark.parametrize("protocol", list(V2_CALLS))
async def test_v2_session_is_recorded(live: Gateway, protocol: str) -> None:
    call = V2_CALLS[protocol]
    token = {"idToken": "04A2B3C4", "type": "ISO14443"}

    def event(kind: str, trigger: str, seq: int, at: str, wh: str, **kw: Any) -> Any:
        sample = {"value": Decimal(wh), "context": kw.pop("context", "Sample.Periodic")}
        return call.TransactionEvent(
            event_type=kind, timestamp=at, trigger_reason=trigger, seq_no=seq,
            transaction_info={"transactionId": "TX-1", **kw.pop("info", {})},
            meter_value=[{"timestamp": at, "sampledValue": [sample]}], **kw,
        )  # fmt: skip

    async with station(live, "CS-2", protocol) as cp:
        station_info = {"model": "DC", "vendorName": "ACME"}
        await cp.call(call.BootNotification(station_info, "PowerUp"))
        started = await cp.call(
            event("Started", "Authorized", 0, "2026-03-01T12:00:00Z", "100",
                  context="Transaction.Begin", evse={"id": 1, "connectorId": 1},
                  id_token=token, info={"chargingState": "Charging"})
        )  # fmt: skip
        await cp.call(event("Updated", "MeterValuePeriodic", 1, "2026-03-01T12:10:00Z", "2100"))
        ended = await cp.call(
            event("Ended", "EVDeparted", 2, "2026-03-01T12:20:00Z", "4100",
                  context="Transaction.End", info={"stoppedReason": "EVDisconnected"})
        )  # fmt: skip
    assert started.id_token_info["status"] == "Accepted"
    assert ended.id_token_info is None
    detail = _service(live).find_session("CS-2", "TX-1")
    assert detail is not None
    assert detail.session.energy_wh == Decimal(4000)
    assert detail.session.stopped_at == datetime(2026, 3, 1, 12, 20, tzinfo=UTC)


async def test_unregistered_station_gets_rejected_and_security_error(
    store: tuple[Database, Settings],
) -> None:
    db, settings = store
    closed = settings.model_copy(update={"auto_register_stations": False})
    gw = Gateway(gateway_config(), SessionService(db, closed))
    async with gw, raw(gw, "STRANGER", "ocpp2.0.1") as ws:
        status = [2, "s1", "StatusNotification",
                  {"timestamp": "2026-03-01T12:00:00Z", "connectorStatus": "Available",
                   "evseId": 1, "connectorId": 1}]  # fmt: skip
        answer = await exchange(ws, status)
        assert answer[:3] == [4, "s1", "SecurityError"]
        boot = [
            2,
            "b1",
            "BootNotification",
            {"chargingStation": {"model": "X", "vendorName": "Y"}, "reason": "PowerUp"},
        ]
        answer = await exchange(ws, boot)
        assert answer[0] == 3 and answer[2]["status"] == "Rejected"


async def _wait_finished(outbox: StationCommandOutbox, command_id: str) -> StationCommand:
    for _ in range(200):
        command = await asyncio.to_thread(outbox.get, command_id)
        if command is not None and command.status in ("done", "failed"):
            return command
        await asyncio.sleep(0.05)
    raise AssertionError(f"command {command_id} was never finished")


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.1"])
async def test_outbox_round_trip_from_another_thread(
    live: Gateway, store: tuple[Database, Settings], protocol: str
) -> None:
    db, _ = store
    outbox = StationCommandOutbox(db)
    async with station(live, "CS-O", protocol) as cp:
        boot = call16.BootNotification("M", "V") if protocol == "ocpp1.6" else (
            call21.BootNotification({"model": "M", "vendorName": "V"}, "PowerUp"))  # fmt: skip
        await cp.call(boot)  # registers the station (auto-registration)
        payload = remote_start_payload(2, IdToken("04A2B3C4"))
        command = await asyncio.to_thread(
            lambda: outbox.enqueue("CS-O", REMOTE_START, payload, now=datetime.now(UTC))
        )
        done = await _wait_finished(outbox, command.id)
        assert cp.received and cp.received[0][0] in ("RemoteStartTransaction",
                                                     "RequestStartTransaction")  # fmt: skip
    assert done.status == "done" and done.result is not None
    assert done.result["status"] == "Accepted"


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EVBILL_DATABASE_URL": database_url, "EVBILL_LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [sys.executable, "-m", "evbill", *args],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.e2e
async def test_cli_remote_start_and_stop_in_another_process(
    live: Gateway, database_url: str
) -> None:
    async with station(live, "CS-CLI", "ocpp2.0.1") as cp:
        await cp.call(call201.BootNotification({"model": "M", "vendorName": "V"}, "PowerUp"))
        started = await asyncio.to_thread(
            _cli, database_url, "remote-start", "CS-CLI", "--evse", "1", "--id-tag", "04A2B3C4"
        )
        rejected = await asyncio.to_thread(
            _cli, database_url, "remote-start", "CS-CLI", "--evse", "1", "--id-tag", "REJECT"
        )
        stopped = await asyncio.to_thread(_cli, database_url, "remote-stop", "CS-CLI", "TX-9")
    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout) | {"command_id": "-"} == {
        "command_id": "-", "state": "done", "error": None, "status": "Accepted",
        "transaction_id": "TX-REMOTE", "reason": None,
    }  # fmt: skip
    assert rejected.returncode == 1 and json.loads(rejected.stdout)["status"] == "Rejected"
    assert stopped.returncode == 0 and json.loads(stopped.stdout)["status"] == "Accepted"
    assert [name for name, _ in cp.received] == [
        "RequestStartTransaction", "RequestStartTransaction", "RequestStopTransaction",
    ]  # fmt: skip


@pytest.mark.e2e
async def test_cli_for_a_station_nobody_holds_times_out_and_withdraws(
    live: Gateway, store: tuple[Database, Settings], database_url: str
) -> None:
    unknown = await asyncio.to_thread(
        _cli, database_url, "remote-stop", "NOT-REGISTERED", "1", "--timeout", "0.5"
    )
    assert unknown.returncode == 2 and "not registered" in unknown.stderr
    async with station(live, "CS-GONE", "ocpp1.6") as cp:
        await cp.call(call16.BootNotification("M", "V"))
    await asyncio.sleep(0.1)
    waited = await asyncio.to_thread(
        _cli, database_url, "remote-stop", "CS-GONE", "7", "--timeout", "0.5"
    )
    assert waited.returncode == 3, waited.stderr
    assert json.loads(waited.stdout)["state"] == "failed"
    db, _ = store
    assert [c.status for c in StationCommandOutbox(db).list("CS-GONE")] == ["failed"]
