"""A fleet of simulated stations, and `evbill simulate`, against the minimal central system."""

from __future__ import annotations

import asyncio
import os
import random
import sys
from datetime import UTC, datetime
from typing import Any

import pytest

from evbill.sim.fleet import FleetConfig, plan_sessions, run_fleet, station_ids


async def test_a_mixed_fleet_completes_every_session(csms: Any) -> None:
    seen: list[int] = []
    config = FleetConfig(url=csms.url, stations=6, sessions=15,
                         protocols=("1.6", "2.0.1", "2.1"), password=csms.password,
                         offline_rate=0.5, signed=True,
                         start=datetime(2025, 1, 1, tzinfo=UTC))
    report = await run_fleet(config, lambda r: seen.append(r.sessions_completed))

    assert report.stations_connected == 6 and report.sessions_completed == 15
    assert seen[-1] == 15 and seen == sorted(seen)
    assert report.undelivered == 0
    assert report.stats.sent == report.stats.acknowledged > 0
    assert report.stats.queued_offline > 0
    assert report.energy_wh == sum(o.energy_wh for o in report.outcomes) > 0
    # What the CSMS received agrees with what the stations say they delivered.
    stops16 = [c.payload for c in csms.state.calls if c.action == "StopTransaction"]
    ended = [c.payload for c in csms.state.calls if c.action == "TransactionEvent"
             and c.payload["eventType"] == "Ended"]
    assert len(stops16) + len(ended) == 15
    subprotocols = {ws.subprotocol for _, ws in csms.state.connections.values()}
    assert subprotocols == {"ocpp1.6", "ocpp2.0.1", "ocpp2.1"}


async def test_stations_with_the_wrong_password_are_counted_not_fatal(csms: Any) -> None:
    config = FleetConfig(url=csms.url, stations=3, sessions=3, password="nope")
    report = await run_fleet(config)
    assert (report.stations_connected, report.stations_failed) == (0, 3)
    assert report.sessions_completed == 0


def test_session_plans_are_reproducible_from_the_seed() -> None:
    config = FleetConfig(url="ws://x", offline_rate=0.3)
    first = plan_sessions(config, 20, random.Random(5))
    assert first == plan_sessions(config, 20, random.Random(5))
    assert any(p.offline for p in first) and not all(p.offline for p in first)
    assert all(1800 <= p.max_duration_s <= 10_800 for p in first)
    assert station_ids("DEMO", 3) == ["DEMO-0001", "DEMO-0002", "DEMO-0003"]


@pytest.mark.parametrize("bad", [{"protocols": ("1.5",)}, {"stations": 0},
                                 {"offline_rate": 1.5}, {"id_tags": ()}])
def test_an_impossible_fleet_is_refused_naming_the_field(bad: dict[str, Any]) -> None:
    field = next(iter(bad)).rstrip("s") if "protocols" in bad else next(iter(bad))
    with pytest.raises(ValueError, match=field):
        FleetConfig(url="ws://x", **bad)


async def test_evbill_simulate_prints_a_summary(csms: Any) -> None:
    env = {**os.environ, "EVBILL_SIM_PASSWORD": csms.password, "COLUMNS": "120"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "evbill", "simulate", "--stations", "3", "--sessions", "4",
        "--protocol", "all", "--url", csms.url, "--offline-rate", "0.5", "--signed",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    text = err.decode()
    assert proc.returncode == 0, text
    assert "sessions completed" in text and "4 of 4" in text
    assert "messages acknowledged" in text
    assert len({c.station_id for c in csms.state.calls}) == 3


async def test_evbill_simulate_fails_when_nothing_listens() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "evbill", "simulate", "--stations", "1", "--sessions", "1",
        "--url", "ws://127.0.0.1:9/ocpp",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 1
    assert "no station could connect" in err.decode()
