"""OCPP 1.6J over a real socket: each message → the right domain command → the right answer."""

from __future__ import annotations

from decimal import Decimal

import pytest
from ocpp.v16 import call
from ocpp_fakes import FakeSessions
from ocpp_kit import gateway_config, station

from evbill.ocpp.errors import StationNotConnected
from evbill.ocpp.server import Gateway
from evbill.sessions.commands import (
    AuthorizationStatus,
    Authorize,
    BootStation,
    ConnectorStatusChanged,
    IdToken,
    IdTokenType,
    ReadingContext,
    RecordMeterValues,
    StartSession,
    StopSession,
)

OCMF = (
    'OCMF|{"FV":"1.0","GI":"ABL SBC-301","GS":"808829900001","PG":"T9",'
    '"RD":[{"TM":"2026-03-01T12:10:00,000+0000 S","TX":"E","RV":"12.345","RI":"1-b:1.8.0",'
    '"RU":"kWh","ST":"G"}]}|{"SA":"ECDSA-secp256r1-SHA256","SD":"3045022100ab"}'
)


async def test_boot_accepted_and_rejected(gateway: Gateway, sessions: FakeSessions) -> None:
    sessions.known_stations = {"CS-1"}
    async with station(gateway, "CS-1", "ocpp1.6") as cp:
        answer = await cp.call(
            call.BootNotification(
                charge_point_model="Wallbox X",
                charge_point_vendor="ACME",
                charge_point_serial_number="SN-1",
                firmware_version="1.2.3",
            )
        )
    assert (answer.status, answer.interval) == ("Accepted", 300)
    assert answer.current_time == "2026-03-01T12:00:00.000Z"
    boot = sessions.of(BootStation)[0]
    assert (boot.station_id, boot.protocol, boot.vendor, boot.model) == (
        "CS-1", "ocpp1.6", "ACME", "Wallbox X",
    )  # fmt: skip
    assert (boot.serial_number, boot.firmware_version) == ("SN-1", "1.2.3")
    async with station(gateway, "CS-2", "ocpp1.6") as cp:
        answer = await cp.call(call.BootNotification("M", "V"))
    assert answer.status == "Rejected"


async def test_heartbeat_and_status(gateway: Gateway, sessions: FakeSessions) -> None:
    async with station(gateway, "CS-1", "ocpp1.6") as cp:
        beat = await cp.call(call.Heartbeat())
        await cp.call(
            call.StatusNotification(
                connector_id=2,
                error_code="GroundFailure",
                status="Faulted",
                timestamp="2026-03-01T11:59:00Z",
            )
        )
        await cp.call(
            call.StatusNotification(connector_id=0, error_code="NoError", status="Available")
        )
    assert beat.current_time == "2026-03-01T12:00:00.000Z"
    assert ("heartbeat", "CS-1") in sessions.commands
    faulted, whole = sessions.of(ConnectorStatusChanged)
    assert (faulted.evse_id, faulted.connector_id, faulted.status, faulted.error_code) == (
        2, 1, "Faulted", "GroundFailure",
    )  # fmt: skip
    assert faulted.at.isoformat() == "2026-03-01T11:59:00+00:00"
    assert (whole.evse_id, whole.connector_id, whole.error_code) == (0, 0, None)


@pytest.mark.parametrize(
    ("status", "wire"),
    [
        (AuthorizationStatus.ACCEPTED, "Accepted"),
        (AuthorizationStatus.BLOCKED, "Blocked"),
        (AuthorizationStatus.CONCURRENT_TX, "ConcurrentTx"),
        (AuthorizationStatus.UNKNOWN, "Invalid"),  # 1.6 has no Unknown
    ],
)
async def test_authorize(
    gateway: Gateway, sessions: FakeSessions, status: AuthorizationStatus, wire: str
) -> None:
    sessions.token_status["TAG-1"] = status
    async with station(gateway, "CS-1", "ocpp1.6") as cp:
        answer = await cp.call(call.Authorize(id_tag="TAG-1"))
    assert answer.id_tag_info["status"] == wire
    assert answer.id_tag_info["parent_id_tag"] == "GROUP-1"
    cmd = sessions.of(Authorize)[0]
    assert cmd.id_token == IdToken("TAG-1", IdTokenType.ISO14443)


async def test_transaction_start_meter_values_stop(
    gateway: Gateway, sessions: FakeSessions
) -> None:
    async with station(gateway, "CS-1", "ocpp1.6") as cp:
        started = await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag="TAG-1", meter_start=1500, timestamp="2026-03-01T12:00:00Z",
                reservation_id=7,
            )
        )  # fmt: skip
        await cp.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=started.transaction_id,
                meter_value=[
                    {
                        "timestamp": "2026-03-01T12:05:00Z",
                        "sampledValue": [
                            {"value": "2.5005", "unit": "kWh", "context": "Sample.Periodic"},
                            {"value": "7400", "measurand": "Power.Active.Import", "unit": "W"},
                            {"value": "16.1", "measurand": "Current.Import", "phase": "L1"},
                            {"value": "16.4", "measurand": "Current.Import", "phase": "L2"},
                            {"value": "55", "measurand": "SoC", "unit": "Percent"},
                            {"value": "230", "measurand": "Voltage", "unit": "V"},
                        ],
                    }
                ],
            )
        )
        stopped = await cp.call(
            call.StopTransaction(
                meter_stop=12345,
                timestamp="2026-03-01T12:10:00Z",
                transaction_id=started.transaction_id,
                reason="EVDisconnected",
                id_tag="TAG-1",
                transaction_data=[
                    {
                        "timestamp": "2026-03-01T12:10:00Z",
                        "sampledValue": [
                            {"value": "12345", "context": "Transaction.End"},
                            {"value": OCMF, "format": "SignedData", "context": "Transaction.End"},
                        ],
                    }
                ],
            )
        )
    assert started.transaction_id == 1001
    assert started.id_tag_info["status"] == "Accepted"
    assert stopped.id_tag_info["status"] == "Accepted"
    start = sessions.of(StartSession)[0]
    assert (start.evse_id, start.connector_id, start.meter_start_wh) == (1, 1, Decimal(1500))
    assert (start.transaction_ref, start.reservation_id) == (None, 7)
    assert start.started_at.isoformat() == "2026-03-01T12:00:00+00:00"
    mv = sessions.of(RecordMeterValues)[0]
    assert (mv.evse_id, mv.transaction_id) == (1, "1001")
    (reading,) = mv.readings
    assert reading.energy_wh == Decimal("2500.5")  # kWh → Wh, exact
    assert (reading.power_w, reading.current_a, reading.soc_percent) == (
        Decimal(7400), Decimal("16.4"), Decimal(55),
    )  # fmt: skip
    stop = sessions.of(StopSession)[0]
    assert (stop.transaction_id, stop.meter_stop_wh, stop.reason) == (
        "1001", Decimal(12345), "EVDisconnected",
    )  # fmt: skip
    (end,) = stop.readings
    assert end.context is ReadingContext.TRANSACTION_END
    assert end.energy_wh == Decimal(12345)
    assert end.signed is not None
    assert (end.signed.signed_data, end.signed.encoding) == (OCMF, "OCMF")


async def test_meter_values_without_transaction_and_signed_only(
    gateway: Gateway, sessions: FakeSessions
) -> None:
    async with station(gateway, "CS-1", "ocpp1.6") as cp:
        await cp.call(
            call.MeterValues(
                connector_id=2,
                meter_value=[
                    {
                        "timestamp": "2026-03-01T12:05:00+01:00",
                        "sampledValue": [
                            {"value": OCMF, "format": "SignedData", "context": "Sample.Clock"}
                        ],
                    }
                ],
            )
        )
    mv = sessions.of(RecordMeterValues)[0]
    assert (mv.evse_id, mv.transaction_id) == (2, None)
    (reading,) = mv.readings
    assert reading.energy_wh is None
    assert reading.at.isoformat() == "2026-03-01T11:05:00+00:00"
    assert reading.signed is not None and reading.signed.context is ReadingContext.SAMPLE_CLOCK


async def test_data_transfer_unknown_vendor_and_message(sessions: FakeSessions) -> None:
    async def echo(station_id: str, data: object) -> str:
        return f"{station_id}:{data}"

    routes = {"com.acme": {"echo": echo}}
    gw = Gateway(gateway_config(), sessions, data_transfer=routes)
    async with gw, station(gw, "CS-1", "ocpp1.6") as cp:
        unknown_vendor = await cp.call(call.DataTransfer(vendor_id="org.other", data="x"))
        unknown_message = await cp.call(call.DataTransfer("com.acme", message_id="nope"))
        known = await cp.call(call.DataTransfer("com.acme", message_id="echo", data="hi"))
    assert unknown_vendor.status == "UnknownVendorId"
    assert unknown_message.status == "UnknownMessageId"
    assert (known.status, known.data) == ("Accepted", "CS-1:hi")


async def test_remote_start_and_stop_from_python(gateway: Gateway) -> None:
    async with station(gateway, "CS-1", "ocpp1.6") as cp:
        accepted = await gateway.remote_start("CS-1", 2, "TAG-9")
        rejected = await gateway.remote_start("CS-1", 1, IdToken("REJECT"))
        stopped = await gateway.remote_stop("CS-1", "1001")
    assert (accepted.status, rejected.status, stopped.status) == (
        "Accepted",
        "Rejected",
        "Accepted",
    )
    assert cp.received == [
        ("RemoteStartTransaction", {"id_tag": "TAG-9", "connector_id": 2}),
        ("RemoteStartTransaction", {"id_tag": "REJECT", "connector_id": 1}),
        ("RemoteStopTransaction", {"transaction_id": 1001}),
    ]
    with pytest.raises(StationNotConnected, match="CS-1"):
        await gateway.remote_start("CS-1", 1, "TAG-9")
