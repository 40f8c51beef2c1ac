"""A fleet of simulated stations running many sessions against one CSMS, with a tally.

Randomness (cars, durations, offline periods) comes from one seeded generator, so a fleet
run is reproducible; every station has its own virtual clock, so hours of charging take
seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import websockets

from evbill.sim.charging import OfflineWindow, SessionOutcome, SessionPlan, run_session
from evbill.sim.clock import VirtualClock
from evbill.sim.curves import AC_11KW, DC_150KW, Vehicle
from evbill.sim.dialects import dialect_for
from evbill.sim.signing import OcmfMeterSigner
from evbill.sim.station import SimStation, StationConfig, StationStats

__all__ = ["FleetConfig", "FleetReport", "is_dc", "plan_sessions", "run_fleet", "station_ids"]

log = logging.getLogger("evbill.sim.fleet")


@dataclass(frozen=True, slots=True)
class FleetConfig:
    """What to simulate; `protocols` are assigned to stations round robin."""

    url: str
    stations: int = 10
    sessions: int = 20
    protocols: tuple[str, ...] = ("1.6",)
    signed: bool = False
    offline_rate: float = 0.0  # share of sessions with an offline period in the middle
    password: str | None = None
    station_prefix: str = "SIM"
    id_tags: tuple[str, ...] = ("SIM-TAG-0001",)
    meter_interval_s: int = 300
    decimal_wh: bool = False  # stations report samples in decimal Wh (meterStop whole Wh)
    dc_share: float = 0.3
    seed: int = 1
    start: datetime | None = None  # first plug-in time; default: far enough in the past
    connect_concurrency: int = 100
    delivery_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        for protocol in self.protocols:
            dialect_for(protocol)  # raises UnknownProtocol
        if self.stations < 1:
            raise ValueError(f"stations: need at least one, got {self.stations}")
        if self.sessions < 0:
            raise ValueError(f"sessions: cannot be negative, got {self.sessions}")
        if not 0 <= self.offline_rate <= 1:
            raise ValueError(f"offline_rate: must be within 0..1, got {self.offline_rate}")
        if not self.id_tags:
            raise ValueError("id_tags: need at least one token")


@dataclass(slots=True)
class FleetReport:
    """The tally, updated while the fleet runs (progress callbacks see it grow)."""

    sessions_planned: int
    stations_connected: int = 0
    stations_failed: int = 0
    sessions_completed: int = 0
    sessions_refused: int = 0
    energy_wh: int = 0
    stats: StationStats = field(default_factory=StationStats)
    outcomes: list[SessionOutcome] = field(default_factory=list)
    undelivered: int = 0  # messages still queued when the run ended

    def energy_by_station(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for outcome in self.outcomes:
            totals[outcome.station_id] = totals.get(outcome.station_id, 0) + outcome.energy_wh
        return totals


def station_ids(prefix: str, count: int) -> list[str]:
    """The fleet's station ids: PREFIX-0001 … (stable, so they can be registered first)."""
    return [f"{prefix}-{i:04d}" for i in range(1, count + 1)]


def _vehicle(rng: random.Random) -> Vehicle:
    return Vehicle(
        battery_wh=Decimal(rng.choice((40_000, 58_000, 77_000, 100_000))),
        soc_percent=Decimal(rng.randint(5, 60)),
        target_soc_percent=Decimal(rng.choice((80, 90, 100))),
    )


def plan_sessions(config: FleetConfig, count: int, rng: random.Random) -> list[SessionPlan]:
    """Random but reproducible sessions: cars, durations, parking, offline periods."""
    plans = []
    for _ in range(count):
        duration = rng.randint(6, 36) * 300  # 30 minutes to 3 hours
        offline: tuple[OfflineWindow, ...] = ()
        if rng.random() < config.offline_rate:
            offline = (OfflineWindow(after_s=duration // 4, duration_s=duration // 3),)
        plans.append(SessionPlan(
            id_tag=rng.choice(config.id_tags), vehicle=_vehicle(rng),
            max_duration_s=duration, park_s=rng.choice((0, 600, 1800)), offline=offline,
        ))
    return plans


def _default_start(config: FleetConfig) -> datetime:
    per_station = -(-config.sessions // config.stations)
    span = timedelta(hours=4 * per_station + 1)
    now = datetime.now(UTC).replace(microsecond=0)
    return now - span


def is_dc(config: FleetConfig, index: int) -> bool:
    """Whether the fleet's station number `index` (from 0) is a DC charger: spread evenly."""
    return int((index + 1) * config.dc_share) > int(index * config.dc_share)


def _build_station(config: FleetConfig, station_id: str, index: int, start: datetime,
                   rng: random.Random, stats: StationStats) -> SimStation:
    dc = is_dc(config, index)
    station_config = StationConfig(
        station_id, password=config.password,
        protocol=config.protocols[index % len(config.protocols)],
        charger=DC_150KW if dc else AC_11KW, meter_interval_s=config.meter_interval_s,
        register_start_wh=rng.randint(0, 5_000_000),
        model="SimDC150" if dc else "SimAC11", decimal_wh=config.decimal_wh,
    )
    signer = OcmfMeterSigner.for_station(station_id) if config.signed else None
    return SimStation(station_config, config.url, VirtualClock(start), signer=signer,
                      stats=stats)


async def _bring_up(station: SimStation, report: FleetReport, gate: asyncio.Semaphore) -> bool:
    async with gate:
        try:
            await station.connect()
            status = await station.boot()
        except (OSError, websockets.InvalidHandshake, TimeoutError, ConnectionError) as exc:
            log.warning("sim.station_refused station_id=%s reason=%s",
                        station.config.station_id, exc)
            report.stations_failed += 1
            return False
    if status != "Accepted":
        report.stations_failed += 1
        return False
    report.stations_connected += 1
    return True


async def _station_run(station: SimStation, plans: Sequence[SessionPlan], rng: random.Random,
                       report: FleetReport, on_progress: Callable[[FleetReport], None]) -> None:
    for plan in plans:
        outcome = await run_session(station, plan)
        if outcome.transaction is None:
            report.sessions_refused += 1
        else:
            report.sessions_completed += 1
            report.energy_wh += outcome.energy_wh
            report.outcomes.append(outcome)
        on_progress(report)
        assert isinstance(station.clock, VirtualClock)
        await station.clock.sleep(rng.randint(5, 60) * 60)  # the bay stays empty a while


async def run_fleet(config: FleetConfig,
                    on_progress: Callable[[FleetReport], None] | None = None) -> FleetReport:
    """Connect the fleet, play every session, wait until the CSMS acknowledged everything."""
    rng = random.Random(config.seed)
    report = FleetReport(sessions_planned=config.sessions)
    progress = on_progress or (lambda _: None)
    start = config.start or _default_start(config)
    ids = station_ids(config.station_prefix, config.stations)
    stations = [_build_station(config, sid, i, start, rng, report.stats)
                for i, sid in enumerate(ids)]
    plans = plan_sessions(config, config.sessions, rng)
    gate = asyncio.Semaphore(config.connect_concurrency)
    up = await asyncio.gather(*(_bring_up(s, report, gate) for s in stations))
    progress(report)
    live = [s for s, ok in zip(stations, up, strict=True) if ok]
    try:
        if live:
            runs = [_station_run(s, plans[i::len(live)], random.Random(rng.random()), report,
                                 progress) for i, s in enumerate(live)]
            await asyncio.gather(*runs)
        await _await_delivery(report, config.delivery_timeout_s)
    finally:
        report.undelivered = sum(s.outbox_size for s in stations)
        for station in stations:
            with contextlib.suppress(Exception):
                await station.close()
    progress(report)
    return report


async def _await_delivery(report: FleetReport, timeout: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            for outcome in report.outcomes:
                await outcome.delivered(timeout)
