"""The simulator over real sockets against a minimal `ocpp`-library central system."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import websockets

from evbill.metering.ocmf_verify import verify_ocmf
from evbill.sim.charging import OfflineWindow, SessionPlan, SessionRunner, run_session
from evbill.sim.clock import VirtualClock
from evbill.sim.curves import DC_150KW, Vehicle
from evbill.sim.dialects import StopReason
from evbill.sim.signing import OcmfMeterSigner
from evbill.sim.station import SimStation, StationConfig

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
PROTOCOLS = ["1.6", "2.0.1", "2.1"]
BIG_CAR = Vehicle(battery_wh=Decimal(100_000), soc_percent=Decimal(10))


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def _station(csms: Any, protocol: str, station_id: str = "ST-1", **config: Any,
                   ) -> SimStation:
    station = SimStation(StationConfig(station_id, password=csms.password, protocol=protocol,
                                       register_start_wh=1_000, **config),
                         csms.url, VirtualClock(T0))
    await station.connect()
    assert await station.boot() == "Accepted"
    return station


def _tx_events(csms: Any, station_id: str) -> list[dict[str, Any]]:
    return csms.state.of(station_id, "TransactionEvent")  # type: ignore[no-any-return]


def _energy_values(meter_values: list[dict[str, Any]]) -> list[int]:
    return [int(Decimal(str(sv["value"]))) for mv in meter_values for sv in mv["sampledValue"]
            if sv.get("measurand") == "Energy.Active.Import.Register"
            and sv.get("format") != "SignedData"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_two_hour_ac_session_is_reported_in_order(csms: Any, protocol: str) -> None:
    station = await _station(csms, protocol)
    outcome = await run_session(station, SessionPlan("TAG-1", BIG_CAR, max_duration_s=7200))
    await outcome.delivered(timeout=5)
    await station.close()

    assert outcome.energy_wh == 22_000  # 11 kW for two hours
    assert (outcome.meter_start_wh, outcome.meter_stop_wh) == (1_000, 23_000)
    assert outcome.stopped_at == T0 + timedelta(hours=2)
    actions = csms.state.actions("ST-1")
    assert actions[:3] == ["BootNotification", "StatusNotification", "Authorize"]
    if protocol == "1.6":
        start = csms.state.of("ST-1", "StartTransaction")[0]
        stop = csms.state.of("ST-1", "StopTransaction")[0]
        meters = csms.state.of("ST-1", "MeterValues")
        assert (start["meterStart"], stop["meterStop"]) == (1_000, 23_000)
        assert {m["transactionId"] for m in meters} == {stop["transactionId"]}
        assert str(stop["transactionId"]) == outcome.transaction_id
        samples = [m["meterValue"][0] for m in meters]
    else:
        events = _tx_events(csms, "ST-1")
        assert [e["eventType"] for e in (events[0], events[-1])] == ["Started", "Ended"]
        assert [e["seqNo"] for e in events] == list(range(len(events)))
        assert {e["transactionInfo"]["transactionId"] for e in events} == {
            outcome.transaction_id}
        samples = [e["meterValue"][0] for e in events[1:-1]]
    assert len(samples) == 120
    times = [_ts(s["timestamp"]) for s in samples]
    assert times == [T0 + timedelta(minutes=i) for i in range(1, 121)]
    energies = _energy_values(samples)
    assert energies == sorted(energies) and energies[-1] == 23_000


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_full_car_suspends_then_parks_until_unplugged(csms: Any, protocol: str) -> None:
    station = await _station(csms, protocol, charger=DC_150KW)
    car = Vehicle(Decimal(60_000), Decimal(70), target_soc_percent=Decimal(80))
    outcome = await run_session(station, SessionPlan("TAG-1", car, park_s=1800))
    await outcome.delivered(timeout=5)

    assert outcome.energy_wh == 6_000  # 10 % of 60 kWh, no more
    assert outcome.max_power_w == Decimal(95_000)  # 150 kW tapered at 70 % (to 45 % at 80)
    if protocol == "1.6":
        statuses = [p["status"] for p in csms.state.of("ST-1", "StatusNotification")]
        assert "SuspendedEV" in statuses
        samples = [m["meterValue"][0] for m in csms.state.of("ST-1", "MeterValues")]
    else:
        events = _tx_events(csms, "ST-1")
        states = [e["transactionInfo"]["chargingState"] for e in events[1:-1]]
        assert states[0] == "Charging" and states[-1] == "SuspendedEV"
        assert "ChargingStateChanged" in [e["triggerReason"] for e in events]
        samples = [e["meterValue"][0] for e in events[1:-1]]
    parked = samples[-30:]  # 30 minutes parked, nothing more flows
    assert set(_energy_values(parked)) == {outcome.meter_stop_wh}
    power = [sv["value"] for s in parked for sv in s["sampledValue"]
             if sv["measurand"] == "Power.Active.Import"]
    assert {Decimal(str(p)) for p in power} == {Decimal(0)}


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_offline_messages_are_queued_and_sent_in_order_with_original_times(
        csms: Any, protocol: str) -> None:
    station = await _station(csms, protocol)
    plan = SessionPlan("TAG-1", BIG_CAR, max_duration_s=3600,
                       offline=(OfflineWindow(after_s=600, duration_s=1200),))
    outcome = await run_session(station, plan)
    await outcome.delivered(timeout=5)

    assert station.stats.queued_offline == 20
    assert station.outbox_size == 0
    if protocol == "1.6":
        samples = [m["meterValue"][0] for m in csms.state.of("ST-1", "MeterValues")]
    else:
        events = _tx_events(csms, "ST-1")
        assert [e["seqNo"] for e in events] == list(range(62))
        offline = [e["seqNo"] for e in events if e["offline"]]
        assert offline == list(range(10, 30))  # minutes 10..29 happened offline
        samples = [e["meterValue"][0] for e in events[1:-1]]
    times = [_ts(s["timestamp"]) for s in samples]
    assert times == [T0 + timedelta(minutes=i) for i in range(1, 61)]
    assert outcome.energy_wh == 11_000


async def test_a_1_6_transaction_started_offline_gets_its_id_after_reconnecting(
        csms: Any) -> None:
    station = await _station(csms, "1.6")
    await station.go_offline()
    outcome = await run_session(station, SessionPlan("TAG-1", BIG_CAR, max_duration_s=600))
    assert outcome.transaction_id is None and station.outbox_size == 12
    await station.come_online()
    await outcome.delivered(timeout=5)

    tx_id = csms.state.of("ST-1", "StopTransaction")[0]["transactionId"]
    assert outcome.transaction_id == str(tx_id)
    assert {m["transactionId"] for m in csms.state.of("ST-1", "MeterValues")} == {tx_id}
    # No Authorize was possible offline: the station authorized locally.
    assert "Authorize" not in csms.state.actions("ST-1")


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_dropped_connection_continues_the_same_transaction(csms: Any,
                                                                   protocol: str) -> None:
    station = await _station(csms, protocol, reconnect_delay_s=0.01)
    plan = SessionPlan("TAG-1", BIG_CAR, max_duration_s=1800, drop_after_s=(300, 900))
    outcome = await run_session(station, plan)
    await outcome.delivered(timeout=5)

    assert station.stats.reconnects == 2
    if protocol == "1.6":
        assert len(csms.state.of("ST-1", "StartTransaction")) == 1
        ids = {m["transactionId"] for m in csms.state.of("ST-1", "MeterValues")}
        assert ids == {int(str(outcome.transaction_id))}
    else:
        events = _tx_events(csms, "ST-1")
        assert [e["seqNo"] for e in events] == list(range(32))
        assert {e["transactionInfo"]["transactionId"] for e in events} == {
            outcome.transaction_id}


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_server_side_cut_loses_no_message(csms: Any, protocol: str) -> None:
    station = await _station(csms, protocol, reconnect_delay_s=0.01)
    plan = SessionPlan("TAG-1", BIG_CAR, max_duration_s=3600, step_pause_s=0.002)
    session = asyncio.create_task(run_session(station, plan))
    for _ in range(3):
        await asyncio.sleep(0.03)
        await csms.kick("ST-1")
    outcome = await session
    await outcome.delivered(timeout=10)

    assert station.stats.reconnects >= 1
    if protocol == "1.6":
        samples = [m["meterValue"][0] for m in csms.state.of("ST-1", "MeterValues")]
    else:
        samples = [e["meterValue"][0] for e in _tx_events(csms, "ST-1")]
    times = {_ts(s["timestamp"]) for s in samples}
    # Every periodic sample arrived (an unanswered one may arrive twice, never none).
    assert {T0 + timedelta(minutes=i) for i in range(1, 61)} <= times


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_remote_start_and_remote_stop(csms: Any, protocol: str) -> None:
    station = await _station(csms, protocol)
    runner = SessionRunner(station, lambda: BIG_CAR,
                           SessionPlan("", BIG_CAR, max_duration_s=36_000, step_pause_s=0.002))
    assert await csms.remote_start("ST-1", "REMOTE-TAG") == "Accepted"
    assert await csms.remote_start("ST-1", "OTHER") == "Rejected"  # the only EVSE is busy
    async with asyncio.timeout(5):
        while not (runner.active and runner.active[1][0] is not None
                   and runner.active[1][0].transaction_id is not None):
            await asyncio.sleep(0.01)
    tx_id = str(runner.active[1][0].transaction_id)  # type: ignore[union-attr]
    await asyncio.sleep(0.05)
    assert await csms.remote_stop("ST-1", tx_id) == "Accepted"
    await runner.wait_idle(timeout=5)

    [outcome] = runner.outcomes
    assert outcome.stop_reason is StopReason.REMOTE
    assert 0 < outcome.energy_wh < 11_000 * 10
    assert "Authorize" not in csms.state.actions("ST-1")
    if protocol == "1.6":
        assert csms.state.of("ST-1", "StopTransaction")[0]["reason"] == "Remote"
    else:
        first, last = _tx_events(csms, "ST-1")[0], _tx_events(csms, "ST-1")[-1]
        assert first["triggerReason"] == "RemoteStart"
        assert first["transactionInfo"]["remoteStartId"] == 7
        assert last["transactionInfo"]["stoppedReason"] == "Remote"
    assert await csms.remote_stop("ST-1", tx_id) == "Rejected"  # already over


def _signed(values: list[dict[str, Any]]) -> list[str]:
    found = []
    for sv in values:
        if sv.get("format") == "SignedData":
            found.append(sv["value"])
        elif "signedMeterValue" in sv:
            found.append(sv["signedMeterValue"]["signedMeterData"])
    return found


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_signed_begin_and_end_readings_verify(csms: Any, protocol: str) -> None:
    station = await _station(csms, protocol)
    station.signer = OcmfMeterSigner.for_station("ST-1")
    outcome = await run_session(station, SessionPlan("TAG-1", BIG_CAR, max_duration_s=1800))
    await outcome.delivered(timeout=5)

    values = [sv for c in csms.state.calls for mv in c.payload.get("meterValue", [])
              + c.payload.get("transactionData", []) for sv in mv["sampledValue"]]
    begin, end = _signed(values)
    key = station.signer.public_key
    readings = []
    for text in (begin, end):
        check = verify_ocmf(text, key)
        assert check.is_valid, check.reason
        readings.extend(check.readings)
    assert [r.transaction.value for r in readings if r.transaction] == ["B", "E"]
    assert [r.value for r in readings] == [Decimal("1.000"), Decimal("6.500")]  # kWh
    assert outcome.energy_wh == 5_500


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_blocked_token_starts_nothing(csms: Any, protocol: str) -> None:
    csms.state.blocked.add("STOLEN")
    station = await _station(csms, protocol)
    outcome = await run_session(station, SessionPlan("STOLEN", BIG_CAR))
    assert outcome.authorization == "Blocked" and outcome.transaction is None
    assert csms.state.actions("ST-1")[-1] == "StatusNotification"
    assert not {"StartTransaction", "TransactionEvent"} & set(csms.state.actions("ST-1"))


async def test_a_wrong_password_is_refused_at_the_handshake(csms: Any) -> None:
    station = SimStation(StationConfig("ST-9", password="wrong"), csms.url, VirtualClock(T0))
    with pytest.raises(websockets.InvalidStatus):
        await station.connect()
    assert csms.auth_failures == 1 and not station.online
