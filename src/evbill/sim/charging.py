"""Charging sessions on a simulated station: authorize, start, meter, suspend, stop.

`run_session` plays one session on the station's clock (virtual in tests: a 2-hour session
takes milliseconds); `SessionRunner` answers the CSMS's remote start and stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any, Final

from evbill.sessions.commands import ChargingState, ReadingContext
from evbill.sim.curves import BatteryState, Vehicle, charge_step, current_a, power_w
from evbill.sim.dialects import ConnectorState, Sample, StopReason, Transaction
from evbill.sim.station import Offline, SimStation

__all__ = ["OfflineWindow", "SessionOutcome", "SessionPlan", "SessionRunner", "run_session"]

_TENTH: Final = Decimal("0.1")
_HUNDREDTH: Final = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class OfflineWindow:
    """The station loses its connection `after_s` into the session for `duration_s`."""

    after_s: int
    duration_s: int


@dataclass(frozen=True, slots=True)
class SessionPlan:
    """What happens in one session; every time is in (simulated) seconds."""

    id_tag: str
    vehicle: Vehicle
    evse_id: int = 1
    max_duration_s: int = 7200  # unplug at the latest after this
    park_s: int = 0  # stays plugged in this long after the car is full
    authorize: bool = True
    offline: tuple[OfflineWindow, ...] = ()
    drop_after_s: tuple[int, ...] = ()  # unplanned connection losses (it reconnects)
    stop_reason: StopReason = StopReason.LOCAL
    id_token_type: str = "ISO14443"
    remote_start_id: int | None = None
    step_pause_s: float = 0.0  # real seconds per meter step, to let the CSMS interleave


@dataclass(slots=True)
class SessionOutcome:
    """What the station did; the CSMS's view must agree with it."""

    station_id: str
    evse_id: int
    authorization: str
    transaction: Transaction | None = None
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    meter_start_wh: int = 0
    meter_stop_wh: int = 0
    stop_reason: StopReason | None = None
    max_power_w: Decimal = Decimal(0)
    acknowledged: list[asyncio.Future[Any]] = field(default_factory=list)

    @property
    def energy_wh(self) -> int:
        return self.meter_stop_wh - self.meter_start_wh

    @property
    def transaction_id(self) -> str | None:
        return None if self.transaction is None else self.transaction.transaction_id

    async def delivered(self, timeout: float) -> None:
        """Wait (real time) until the CSMS acknowledged every message of the session."""
        async with asyncio.timeout(timeout):
            await asyncio.gather(*self.acknowledged, return_exceptions=True)


class _Session:
    """The running state of one session (kept out of the long coroutine)."""

    def __init__(self, station: SimStation, plan: SessionPlan, stop: asyncio.Event) -> None:
        self.station = station
        self.plan = plan
        self.stop = stop
        self.battery = BatteryState(plan.vehicle)
        self.charging_state = ChargingState.CHARGING
        self.outage_open = False  # a planned offline period is in progress
        self.outcome = SessionOutcome(station.config.station_id, plan.evse_id, "Accepted")

    @property
    def register_wh(self) -> int:
        joules = self.station.registers_j[self.plan.evse_id]
        return int((joules / 3600).to_integral_value(rounding=ROUND_FLOOR))

    def sample(self, context: ReadingContext, tx: Transaction | None = None) -> Sample:
        st, at = self.station, self.station.clock.now()
        charger, vehicle = st.config.charger, self.plan.vehicle
        power = power_w(charger, vehicle, self.battery.soc_percent)
        if self.charging_state is not ChargingState.CHARGING:
            power = Decimal(0)
        signed = None
        if st.signer is not None and tx is not None:
            signed = st.signer.sign(at=at, energy_wh=self.register_wh, context=context,
                                    id_tag=tx.id_tag, transaction_ref=tx.ref,
                                    current_type=charger.current_type.value)
        self.outcome.max_power_w = max(self.outcome.max_power_w, power)
        precise = None
        if st.config.decimal_wh:
            joules = st.registers_j[self.plan.evse_id]
            precise = (joules / 3600).quantize(_HUNDREDTH, rounding=ROUND_FLOOR)
        return Sample(at, self.register_wh, power, current_a(charger, power),
                      self.battery.soc_percent.quantize(_TENTH), context, signed, precise)

    async def send(self, build: Callable[[], Any],
                   on_reply: Callable[[Any], None] | None = None) -> None:
        done = await self.station.send(build, on_reply)
        self.outcome.acknowledged.append(done)

    async def step(self, seconds: int) -> None:
        st, plan = self.station, self.plan
        await st.clock.sleep(seconds)
        if plan.step_pause_s:
            await asyncio.sleep(plan.step_pause_s)
        before = self.battery.delivered_j
        self.battery = charge_step(st.config.charger, self.battery, seconds)
        st.registers_j[plan.evse_id] += self.battery.delivered_j - before

    async def connectivity(self, before_s: int, after_s: int) -> None:
        """Apply planned offline windows and connection drops that fall in (before, after]."""
        for window in self.plan.offline:
            if before_s < window.after_s <= after_s:
                await self.station.go_offline()
                self.outage_open = True
            end = window.after_s + window.duration_s
            if before_s < end <= after_s:
                await self.station.come_online()
                self.outage_open = False
        for drop_at in self.plan.drop_after_s:
            if before_s < drop_at <= after_s:
                await self.station.drop()
                await self.station.wait_online(timeout=30)


async def _authorize(station: SimStation, plan: SessionPlan) -> str:
    if not plan.authorize or not station.online:
        return "Accepted"  # remote start, or offline: the station's local authorization
    try:
        return station.dialect.authorization_status(
            await station.call(station.dialect.authorize(plan.id_tag)))
    except Offline:
        return "Accepted"


async def run_session(station: SimStation, plan: SessionPlan,
                      stop: asyncio.Event | None = None,
                      on_transaction: Callable[[Transaction], None] | None = None,
                      ) -> SessionOutcome:
    """Play one session from plug-in to unplug; `stop` set by the CSMS ends it early."""
    stop = stop if stop is not None else asyncio.Event()
    s = _Session(station, plan, stop)
    dialect, evse = station.dialect, plan.evse_id
    await station.status(evse, ConnectorState.PREPARING)
    s.outcome.authorization = await _authorize(station, plan)
    if s.outcome.authorization != "Accepted":
        await station.status(evse, ConnectorState.AVAILABLE)
        return s.outcome
    tx = Transaction(evse, 1, plan.id_tag, str(uuid.uuid4()), plan.id_token_type,
                     plan.remote_start_id)
    s.outcome.transaction = tx
    if on_transaction is not None:
        on_transaction(tx)
    begin = s.sample(ReadingContext.TRANSACTION_BEGIN, tx)
    s.outcome.started_at, s.outcome.meter_start_wh = begin.at, begin.energy_wh
    offline = not station.online
    await s.send(lambda: dialect.start(tx, begin, offline),
                 lambda reply: _check_started(s, tx, reply))
    if station.dialect.version == "1.6" and begin.signed is not None:
        await s.send(lambda: dialect.meter(tx, begin, ChargingState.CHARGING, "", offline))
    await station.status(evse, ConnectorState.CHARGING)
    await _charge(s, tx)
    await _finish(s, tx)
    return s.outcome


def _check_started(s: _Session, tx: Transaction, reply: Any) -> None:
    status = s.station.dialect.started(tx, reply)
    if status != "Accepted":
        s.outcome.authorization = status
        s.stop.set()  # the CSMS refused the token: the station ends the transaction


async def _charge(s: _Session, tx: Transaction) -> None:
    st, plan = s.station, s.plan
    interval, elapsed, full_for = st.config.meter_interval_s, 0, 0
    while elapsed < plan.max_duration_s and not s.stop.is_set():
        seconds = min(interval, plan.max_duration_s - elapsed)
        await s.step(seconds)
        await s.connectivity(elapsed, elapsed + seconds)
        elapsed += seconds
        trigger = "MeterValuePeriodic"
        if s.battery.soc_percent >= plan.vehicle.target_soc_percent:
            full_for += seconds
            if s.charging_state is ChargingState.CHARGING:
                s.charging_state, trigger = ChargingState.SUSPENDED_EV, "ChargingStateChanged"
                await st.status(plan.evse_id, ConnectorState.SUSPENDED_EV)
        sample = s.sample(ReadingContext.SAMPLE_PERIODIC)
        state, offline = s.charging_state, not st.online
        await s.send(functools.partial(st.dialect.meter, tx, sample, state, trigger, offline))
        if full_for and full_for >= plan.park_s:
            break


async def _finish(s: _Session, tx: Transaction) -> None:
    st, plan = s.station, s.plan
    reason = StopReason.REMOTE if s.stop.is_set() else plan.stop_reason
    if s.outcome.authorization != "Accepted":
        reason = StopReason.DEAUTHORIZED
    s.charging_state = ChargingState.EV_CONNECTED
    end = s.sample(ReadingContext.TRANSACTION_END, tx)
    s.outcome.stopped_at, s.outcome.meter_stop_wh = end.at, end.energy_wh
    s.outcome.stop_reason = reason
    offline = not st.online
    await s.send(lambda: st.dialect.stop(tx, end, reason, offline))
    if s.outage_open:  # the car left during the outage; the network comes back now
        await st.come_online()
    await st.status(plan.evse_id, ConnectorState.FINISHING)
    await st.status(plan.evse_id, ConnectorState.AVAILABLE)


class SessionRunner:
    """Runs sessions on a station's EVSEs and answers the CSMS's remote start and stop."""

    def __init__(self, station: SimStation, vehicle: Callable[[], Vehicle],
                 defaults: SessionPlan | None = None) -> None:
        self.station = station
        self.vehicle = vehicle
        self.defaults = defaults
        self.active: dict[int, tuple[Transaction | None, asyncio.Event]] = {}
        self.outcomes: list[SessionOutcome] = []
        self._tasks: set[asyncio.Task[SessionOutcome]] = set()
        station.remote_handler = self

    async def run(self, plan: SessionPlan) -> SessionOutcome:
        if plan.evse_id in self.active:
            raise RuntimeError(f"evse_id: EVSE {plan.evse_id} already has a session")
        stop = asyncio.Event()
        self.active[plan.evse_id] = (None, stop)

        def started(tx: Transaction) -> None:
            self.active[plan.evse_id] = (tx, stop)

        try:
            outcome = await run_session(self.station, plan, stop, started)
        finally:
            del self.active[plan.evse_id]
        self.outcomes.append(outcome)
        return outcome

    def remote_start(self, id_tag: str, id_token_type: str, evse_id: int | None,
                     remote_start_id: int | None) -> bool:
        free = [e for e in self.station.registers_j if e not in self.active]
        evse = evse_id if evse_id is not None else (free[0] if free else None)
        if evse is None or evse not in free:
            return False
        base = self.defaults or SessionPlan(id_tag, self.vehicle())
        plan = replace(base, id_tag=id_tag, vehicle=self.vehicle(), evse_id=evse,
                       authorize=False, id_token_type=id_token_type,
                       remote_start_id=remote_start_id)
        self.active[evse] = (None, asyncio.Event())  # claimed before the task starts
        task = asyncio.get_running_loop().create_task(self._run_claimed(plan))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _run_claimed(self, plan: SessionPlan) -> SessionOutcome:
        del self.active[plan.evse_id]
        return await self.run(plan)

    def remote_stop(self, transaction_id: str) -> bool:
        for tx, stop in self.active.values():
            if tx is not None and transaction_id in (tx.transaction_id, tx.ref):
                stop.set()
                return True
        return False

    async def wait_idle(self, timeout: float) -> None:
        """Wait (real time) until every remotely started session has ended."""
        async with asyncio.timeout(timeout):
            while self._tasks:
                with contextlib.suppress(Exception):
                    await asyncio.gather(*self._tasks)
