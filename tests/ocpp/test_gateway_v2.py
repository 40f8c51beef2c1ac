"""OCPP 2.0.1 and 2.1 over a real socket: each message → domain command → answer."""

from __future__ import annotations

from decimal import Decimal
from types import ModuleType
from typing import Any

import pytest
from ocpp.v21 import call as call21
from ocpp.v201 import call as call201
from ocpp_fakes import FakeSessions
from ocpp_kit import station

from evbill.ocpp.server import Gateway
from evbill.sessions.commands import (
    AuthorizationStatus,
    Authorize,
    BootStation,
    ChargingState,
    ConnectorStatusChanged,
    IdToken,
    IdTokenType,
    ReadingContext,
    RecordMeterValues,
    StartSession,
    StopSession,
)

CALLS = {"ocpp2.0.1": call201, "ocpp2.1": call21}
OCMF = 'OCMF|{"FV":"1.0","RD":[{"TX":"B","RV":"1.000","RU":"kWh"}]}|{"SD":"30440220"}'


@pytest.fixture(params=list(CALLS))
def protocol(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def call(protocol: str) -> ModuleType:
    return CALLS[protocol]


def meter_value(at: str, *samples: dict[str, Any]) -> dict[str, Any]:
    return {"timestamp": at, "sampledValue": list(samples)}


async def test_boot(gateway: Gateway, sessions: FakeSessions, protocol: str, call: Any) -> None:
    sessions.known_stations = {"CS-1"}
    station_info = {"model": "DC-150", "vendorName": "ACME", "firmwareVersion": "4.2"}
    async with station(gateway, "CS-1", protocol) as cp:
        answer = await cp.call(call.BootNotification(station_info, "PowerUp"))
    async with station(gateway, "CS-X", protocol) as cp:
        refused = await cp.call(call.BootNotification(station_info, "PowerUp"))
    assert (answer.status, answer.interval) == ("Accepted", 300)
    assert refused.status == "Rejected"
    assert refused.status_info["additional_info"] == "station is not registered"
    boot = sessions.of(BootStation)[0]
    assert (boot.protocol, boot.vendor, boot.model, boot.firmware_version) == (
        protocol, "ACME", "DC-150", "4.2",
    )  # fmt: skip


async def test_heartbeat_and_status(
    gateway: Gateway, sessions: FakeSessions, protocol: str, call: Any
) -> None:
    async with station(gateway, "CS-1", protocol) as cp:
        beat = await cp.call(call.Heartbeat())
        await cp.call(
            call.StatusNotification(
                timestamp="2026-03-01T11:00:00Z", connector_status="Occupied", evse_id=2,
                connector_id=1,
            )
        )  # fmt: skip
    assert beat.current_time == "2026-03-01T12:00:00.000Z"
    status = sessions.of(ConnectorStatusChanged)[0]
    assert (status.evse_id, status.connector_id, status.status) == (2, 1, "Occupied")


@pytest.mark.parametrize(
    "token_type", ["ISO14443", "eMAID", "MacAddress", "Central", "NoAuthorization", "KeyCode"]
)
async def test_authorize_token_types(
    gateway: Gateway, sessions: FakeSessions, protocol: str, call: Any, token_type: str
) -> None:
    sessions.token_status["T-1"] = AuthorizationStatus.BLOCKED
    async with station(gateway, "CS-1", protocol) as cp:
        answer = await cp.call(call.Authorize(id_token={"idToken": "T-1", "type": token_type}))
    assert answer.id_token_info["status"] == "Blocked"
    assert answer.id_token_info["group_id_token"] == {"id_token": "GROUP-1", "type": "Central"}
    assert sessions.of(Authorize)[0].id_token == IdToken("T-1", IdTokenType(token_type))


async def test_unknown_token_type_in_21_is_answered_unknown(
    gateway: Gateway, sessions: FakeSessions
) -> None:
    async with station(gateway, "CS-1", "ocpp2.1") as cp:
        answer = await cp.call(call21.Authorize(id_token={"idToken": "WVW123", "type": "VIN"}))
    assert answer.id_token_info["status"] == "Unknown"
    assert sessions.of(Authorize) == []


def _tx_event(call: Any, event: str, trigger: str, seq: int, **kw: Any) -> Any:
    info = {"transactionId": "TX-42", **kw.pop("info", {})}
    return call.TransactionEvent(
        event_type=event,
        timestamp=kw.pop("timestamp", "2026-03-01T12:00:00Z"),
        trigger_reason=trigger,
        seq_no=seq,
        transaction_info=info,
        **kw,
    )


async def test_transaction_lifecycle(
    gateway: Gateway, sessions: FakeSessions, protocol: str, call: Any
) -> None:
    token = {"idToken": "04A2B3C4", "type": "ISO14443"}
    signed = {"signedMeterData": OCMF, "signingMethod": "ECDSA-secp256r1-SHA256",
              "encodingMethod": "OCMF", "publicKey": "3059301306"}  # fmt: skip
    async with station(gateway, "CS-1", protocol) as cp:
        started = await cp.call(
            _tx_event(
                call, "Started", "Authorized", 0,
                info={"chargingState": "EVConnected", "remoteStartId": 5},
                evse={"id": 1, "connectorId": 1}, id_token=token, reservation_id=3,
                meter_value=[
                    meter_value(
                        "2026-03-01T12:00:00Z",
                        {"value": 1.0, "context": "Transaction.Begin",
                         "unitOfMeasure": {"unit": "kWh"}, "signedMeterValue": signed},
                    )
                ],
            )
        )  # fmt: skip
        updated = await cp.call(
            _tx_event(
                call, "Updated", "ChargingStateChanged", 1,
                info={"chargingState": "Charging"}, timestamp="2026-03-01T12:05:00Z",
                meter_value=[
                    meter_value(
                        "2026-03-01T12:05:00Z",
                        {"value": 1.75, "unitOfMeasure": {"unit": "kWh"}},
                        {"value": 11, "measurand": "Power.Active.Import",
                         "unitOfMeasure": {"unit": "W", "multiplier": 3}},
                        {"value": 80, "measurand": "SoC", "unitOfMeasure": {"unit": "Percent"}},
                    )
                ],
            )
        )  # fmt: skip
        ended = await cp.call(
            _tx_event(
                call, "Ended", "EVDeparted", 2,
                info={"chargingState": "Idle", "stoppedReason": "EVDisconnected"},
                timestamp="2026-03-01T12:30:00Z", id_token=token,
                meter_value=[
                    meter_value("2026-03-01T12:30:00Z",
                                {"value": 9876.5, "context": "Transaction.End"})
                ],
            )
        )  # fmt: skip
    assert started.id_token_info["status"] == "Accepted"
    assert updated.total_cost == 4.56 and updated.id_token_info is None
    assert ended.id_token_info["status"] == "Accepted"

    start = sessions.of(StartSession)[0]
    assert (start.evse_id, start.connector_id, start.transaction_ref) == (1, 1, "TX-42")
    assert (start.seq_no, start.reservation_id, start.charging_state) == (
        0, 3, ChargingState.EV_CONNECTED,
    )  # fmt: skip
    assert start.id_token == IdToken("04A2B3C4")
    assert start.meter_start_wh == Decimal(1000)
    begin_signed = start.readings[0].signed
    assert begin_signed is not None
    assert (begin_signed.signed_data, begin_signed.encoding, begin_signed.public_key) == (
        OCMF, "OCMF", "3059301306",
    )  # fmt: skip
    assert begin_signed.context is ReadingContext.TRANSACTION_BEGIN

    mv = sessions.of(RecordMeterValues)[0]
    assert (mv.transaction_id, mv.seq_no, mv.trigger_reason) == ("TX-42", 1, "ChargingStateChanged")
    assert mv.charging_state is ChargingState.CHARGING
    (reading,) = mv.readings
    assert (reading.energy_wh, reading.power_w, reading.soc_percent) == (
        Decimal(1750), Decimal(11000), Decimal(80),
    )  # fmt: skip

    stop = sessions.of(StopSession)[0]
    assert (stop.transaction_id, stop.seq_no, stop.trigger_reason, stop.reason) == (
        "TX-42", 2, "EVDeparted", "EVDisconnected",
    )  # fmt: skip
    assert stop.meter_stop_wh == Decimal("9876.5")
    assert stop.stopped_at.isoformat() == "2026-03-01T12:30:00+00:00"


TRIGGERS_201 = [
    "Authorized", "CablePluggedIn", "ChargingRateChanged", "ChargingStateChanged",
    "Deauthorized", "EnergyLimitReached", "EVCommunicationLost", "EVConnectTimeout",
    "MeterValueClock", "MeterValuePeriodic", "TimeLimitReached", "Trigger", "UnlockCommand",
    "StopAuthorized", "EVDeparted", "EVDetected", "RemoteStop", "RemoteStart",
    "AbnormalCondition", "SignedDataReceived", "ResetCommand",
]  # fmt: skip
TRIGGERS_21_ONLY = [
    "CostLimitReached", "LimitSet", "OperationModeChanged", "RunningCost", "SoCLimitReached",
    "TariffChanged", "TariffNotAccepted", "TxResumed",
]  # fmt: skip


async def test_every_trigger_reason_reaches_the_service(
    gateway: Gateway, sessions: FakeSessions, protocol: str, call: Any
) -> None:
    triggers = TRIGGERS_201 + (TRIGGERS_21_ONLY if protocol == "ocpp2.1" else [])
    async with station(gateway, "CS-1", protocol) as cp:
        for seq, trigger in enumerate(triggers, start=1):
            await cp.call(_tx_event(call, "Updated", trigger, seq))
    recorded = sessions.of(RecordMeterValues)
    assert [r.trigger_reason for r in recorded] == triggers
    assert [r.seq_no for r in recorded] == list(range(1, len(triggers) + 1))
    assert all(r.evse_id == 0 and r.readings == () for r in recorded)


async def test_updated_with_a_late_token_is_authorized(
    gateway: Gateway, sessions: FakeSessions, protocol: str, call: Any
) -> None:
    async with station(gateway, "CS-1", protocol) as cp:
        answer = await cp.call(
            _tx_event(call, "Updated", "Authorized", 1,
                      id_token={"idToken": "AA:BB:CC:DD:EE:FF", "type": "MacAddress"})
        )  # fmt: skip
    assert answer.id_token_info["status"] == "Accepted"
    assert sessions.of(Authorize)[0].id_token.type is IdTokenType.MAC_ADDRESS


async def test_meter_values_outside_a_transaction(
    gateway: Gateway, sessions: FakeSessions, protocol: str, call: Any
) -> None:
    async with station(gateway, "CS-1", protocol) as cp:
        await cp.call(
            call.MeterValues(
                evse_id=3,
                meter_value=[meter_value("2026-03-01T12:00:00Z", {"value": 123456})],
            )
        )
    mv = sessions.of(RecordMeterValues)[0]
    assert (mv.evse_id, mv.transaction_id, mv.readings[0].energy_wh) == (3, None, Decimal(123456))


async def test_data_transfer_is_answered_explicitly(
    gateway: Gateway, protocol: str, call: Any
) -> None:
    async with station(gateway, "CS-1", protocol) as cp:
        answer = await cp.call(call.DataTransfer(vendor_id="com.unknown", message_id="x"))
    assert answer.status == "UnknownVendorId"


async def test_remote_start_and_stop_from_python(gateway: Gateway, protocol: str) -> None:
    async with station(gateway, "CS-1", protocol) as cp:
        accepted = await gateway.remote_start(
            "CS-1", 1, IdToken("EMAID-DE8ACC12345678", IdTokenType.EMAID)
        )
        rejected = await gateway.remote_start("CS-1", 2, "REJECT")
        stopped = await gateway.remote_stop("CS-1", "TX-42")
    assert (accepted.status, accepted.transaction_id) == ("Accepted", "TX-REMOTE")
    assert (rejected.status, stopped.status) == ("Rejected", "Accepted")
    (_, first), (_, second), stop = cp.received
    assert first["id_token"] == {"id_token": "EMAID-DE8ACC12345678", "type": "eMAID"}
    assert first["evse_id"] == 1 and isinstance(first["remote_start_id"], int)
    assert second["remote_start_id"] != first["remote_start_id"]
    assert stop == ("RequestStopTransaction", {"transaction_id": "TX-42"})
