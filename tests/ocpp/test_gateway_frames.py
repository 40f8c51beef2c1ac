"""Malformed frames, schema violations and unknown actions over a real socket.

Each gets the version's own CallError (1.6 spells FormationViolation), is logged with the
station id, and the connection keeps working: the next CALL is answered and nothing that
was recorded before is lost.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from ocpp_fakes import FakeSessions
from ocpp_kit import PROTOCOLS, exchange, raw
from websockets.asyncio.client import ClientConnection

from evbill.ocpp.server import Gateway

V16, V201, V21 = PROTOCOLS
HEARTBEAT = [2, "hb", "Heartbeat", {}]
BOOT_16 = {"chargePointVendor": "ACME", "chargePointModel": "X"}
BOOT_2 = {"chargingStation": {"model": "X", "vendorName": "ACME"}, "reason": "PowerUp"}


def boot(protocol: str) -> dict[str, Any]:
    return dict(BOOT_16 if protocol == V16 else BOOT_2)


async def still_works(ws: ClientConnection) -> None:
    answer = await exchange(ws, HEARTBEAT)
    assert answer[:2] == [3, "hb"] and "currentTime" in answer[2]


def spelled(protocol: str, v16: str, v2: str) -> str:
    return v16 if protocol == V16 else v2


# (frame, message id answered, error code for 1.6, error code for 2.x)
FRAMING_CASES = [
    pytest.param("this is not json", "-1", "FormationViolation", "FormatViolation", id="not-json"),
    pytest.param('[2, "a", "Heartbeat", {}', "-1", "FormationViolation", "FormatViolation",
                 id="truncated-json"),
    pytest.param('{"a": 1}', "-1", "ProtocolError", "RpcFrameworkError", id="object"),
    pytest.param("42", "-1", "ProtocolError", "RpcFrameworkError", id="number"),
    pytest.param("[]", "-1", "ProtocolError", "RpcFrameworkError", id="empty-array"),
    pytest.param('[2, "m1", "Heartbeat"]', "m1", "ProtocolError", "RpcFrameworkError",
                 id="call-without-payload"),
    pytest.param('[2, 17, "Heartbeat", {}]', "-1", "ProtocolError", "RpcFrameworkError",
                 id="numeric-message-id"),
    pytest.param('[2, "m2", 5, {}]', "m2", "ProtocolError", "RpcFrameworkError",
                 id="numeric-action"),
    pytest.param('[9, "m3", "Heartbeat", {}]', "m3", "PropertyConstraintViolation",
                 "MessageTypeNotSupported", id="unknown-message-type"),
    pytest.param('["2", "m4", "Heartbeat", {}]', "m4", "PropertyConstraintViolation",
                 "MessageTypeNotSupported", id="message-type-as-string"),
]  # fmt: skip


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(("frame", "answered_id", "code16", "code2"), FRAMING_CASES)
async def test_malformed_frames(
    gateway: Gateway,
    caplog: pytest.LogCaptureFixture,
    protocol: str,
    frame: str,
    answered_id: str,
    code16: str,
    code2: str,
) -> None:
    caplog.set_level(logging.WARNING, "evbill.ocpp")
    async with raw(gateway, "CS-F", protocol) as ws:
        answer = await exchange(ws, frame)
        assert answer[0] == 4 and answer[1] == answered_id
        assert answer[2] == spelled(protocol, code16, code2)
        assert isinstance(answer[3], str) and isinstance(answer[4], dict)
        await still_works(ws)
    assert any("station=CS-F" in r.getMessage() for r in caplog.records)


# (action, payload, code for 1.6, code for 2.x) — payloads that break the action's schema
def schema_cases(protocol: str) -> list[tuple[str, dict[str, Any], str]]:
    base = boot(protocol)
    if protocol == V16:
        return [
            ("missing-required", {"chargePointVendor": "ACME"}, "ProtocolError"),
            ("wrong-type", {**base, "chargePointModel": 7}, "TypeConstraintViolation"),
            ("too-long", {**base, "chargePointModel": "x" * 21}, "TypeConstraintViolation"),
            ("extra-property", {**base, "colour": "red"}, "FormationViolation"),
            ("payload-not-object", [], "TypeConstraintViolation"),  # type: ignore[list-item]
        ]
    station = base["chargingStation"]
    return [
        ("missing-required", {"reason": "PowerUp"}, "OccurrenceConstraintViolation"),
        ("wrong-type", {**base, "chargingStation": {**station, "model": 7}},
         "TypeConstraintViolation"),
        ("bad-enum", {**base, "reason": "Bored"}, "PropertyConstraintViolation"),
        ("extra-property", {**base, "colour": "red"}, "FormatViolation"),
        ("payload-not-object", [], "TypeConstraintViolation"),  # type: ignore[list-item]
    ]  # fmt: skip


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_schema_violations(gateway: Gateway, sessions: FakeSessions, protocol: str) -> None:
    async with raw(gateway, "CS-S", protocol) as ws:
        ok = await exchange(ws, [2, "boot-ok", "BootNotification", boot(protocol)])
        assert ok[0] == 3
        for name, payload, code in schema_cases(protocol):
            answer = await exchange(ws, [2, name, "BootNotification", payload])
            assert answer[:3] == [4, name, code], (name, answer)
            await still_works(ws)
    assert len(sessions.commands) >= 1 and sessions.commands[0].station_id == "CS-S"
    assert len([c for c in sessions.commands if not isinstance(c, tuple)]) == 1  # one boot


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_unknown_action_is_not_implemented(gateway: Gateway, protocol: str) -> None:
    async with raw(gateway, "CS-U", protocol) as ws:
        answer = await exchange(ws, [2, "u1", "FlyToTheMoon", {}])
        assert answer[:3] == [4, "u1", "NotImplemented"]
        assert answer[3] == "Requested Action is not known by receiver"
        await still_works(ws)


@pytest.mark.parametrize(
    ("protocol", "action"),
    [(V16, "Reset"), (V16, "SignCertificate"), (V201, "GetVariables"), (V21, "NotifyDERAlarm")],
)
async def test_known_but_unsupported_action_is_not_supported(
    gateway: Gateway, protocol: str, action: str
) -> None:
    async with raw(gateway, "CS-U", protocol) as ws:
        answer = await exchange(ws, [2, "n1", action, {}])
        assert answer[:3] == [4, "n1", "NotSupported"]
        await still_works(ws)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_service_failure_is_internal_error(
    gateway: Gateway, sessions: FakeSessions, protocol: str
) -> None:
    sessions.fail_on.add("boot")
    async with raw(gateway, "CS-E", protocol) as ws:
        answer = await exchange(ws, [2, "b1", "BootNotification", boot(protocol)])
        assert answer[:3] == [4, "b1", "InternalError"]
        assert "failed on purpose" not in json.dumps(answer)  # no internals leak
        await still_works(ws)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_bad_timestamp_is_property_constraint_violation(
    gateway: Gateway, protocol: str
) -> None:
    if protocol == V16:
        frame = [2, "s1", "StatusNotification",
                 {"connectorId": 1, "errorCode": "NoError", "status": "Available",
                  "timestamp": "yesterday"}]  # fmt: skip
    else:
        frame = [2, "s1", "StatusNotification",
                 {"timestamp": "yesterday", "connectorStatus": "Available", "evseId": 1,
                  "connectorId": 1}]  # fmt: skip
    async with raw(gateway, "CS-T", protocol) as ws:
        answer = await exchange(ws, frame)
        assert answer[:3] == [4, "s1", "PropertyConstraintViolation"]
        assert "timestamp" in answer[4]["cause"]
        await still_works(ws)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_answers_to_nothing_and_binary_frames(gateway: Gateway, protocol: str) -> None:
    async with raw(gateway, "CS-R", protocol) as ws:
        await ws.send(json.dumps([3, "never-asked", {}]))  # a result nobody waits for
        await ws.send(json.dumps([4, "never-asked", "GenericError", "", {}]))
        await ws.send(json.dumps([3, "short"]))  # malformed answer: logged, not answered
        await still_works(ws)
        answer = await exchange(ws, b"\x00\x01binary")
        assert answer[:3] == [4, "-1", spelled(protocol, "FormationViolation", "FormatViolation")]
        await still_works(ws)


async def test_21_send_and_callresulterror_are_never_answered(gateway: Gateway) -> None:
    async with raw(gateway, "CS-21", V21) as ws:
        await ws.send(json.dumps([6, "s1", "NotifyPeriodicEventStream", {"id": 1}]))
        await ws.send(json.dumps([5, "r1", "GenericError", "", {}]))
        answer = await exchange(ws, HEARTBEAT)  # the first thing back is the heartbeat answer
        assert answer[:2] == [3, "hb"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_earlier_data_survives_a_burst_of_garbage(
    gateway: Gateway, sessions: FakeSessions, protocol: str
) -> None:
    async with raw(gateway, "CS-G", protocol) as ws:
        await exchange(ws, [2, "boot", "BootNotification", boot(protocol)])
        for junk in ["{", "[]", "[7]", '[2, "x", "Nope", {}]', "null"]:
            await ws.send(junk)
        answers = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(5)]
        assert all(a[0] == 4 for a in answers)
        await still_works(ws)
    assert [c.station_id for c in sessions.commands if not isinstance(c, tuple)] == ["CS-G"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("depth", [50_000, 40])
async def test_deeply_nested_frame_gets_a_format_violation(
    gateway: Gateway, protocol: str, depth: int
) -> None:
    """F12: 50,000 nested '[' made the JSON decoder recurse until RecursionError and the
    station was dropped with 1011; now it is a FormationViolation/FormatViolation answer and
    the connection carries on (40 levels: decodable, but past the depth limit too)."""
    frames = ["[" * depth, "[" * depth + "]" * depth,
              json.dumps([2, "deep", "Heartbeat", {}]).replace("{}", "[" * depth + "]" * depth)]
    async with raw(gateway, "CS-DEEP", protocol) as ws:
        for frame in frames:
            answer = await exchange(ws, frame)
            assert answer[0] == 4 and answer[1] == "-1"
            assert answer[2] == spelled(protocol, "FormationViolation", "FormatViolation")
            assert "nested deeper" in answer[4]["cause"] or answer[4]["cause"] == "not JSON"
        await still_works(ws)
