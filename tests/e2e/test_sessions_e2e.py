"""Simulated stations over real sockets → gateway → session service → stored, priced CDRs.

Every test runs for OCPP 1.6, 2.0.1 and 2.1 and on SQLite and PostgreSQL.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from e2e_world import PRICE_PER_KWH, PROTOCOLS, TOKEN, World

from evbill.sim.charging import OfflineWindow, SessionOutcome, SessionPlan, run_session
from evbill.sim.curves import Vehicle
from evbill.sim.signing import OcmfMeterSigner
from evbill.sim.station import SimStation

pytestmark = pytest.mark.e2e

CAR = Vehicle(battery_wh=Decimal(100_000), soc_percent=Decimal(10))


def _expected_cost(energy_wh: int) -> Decimal:
    return Decimal(energy_wh) / 1000 * PRICE_PER_KWH


def _assert_one_priced_cdr(world: World, station_id: str, outcome: SessionOutcome) -> None:
    [session] = world.sessions(station_id)
    assert session.transaction_id == outcome.transaction_id
    assert session.state == "rated", session.flags
    assert session.energy_wh == outcome.energy_wh
    detail = world.detail(station_id, outcome.transaction_id)
    assert detail.cdr is not None
    assert detail.cdr.total_energy_wh == outcome.energy_wh
    assert detail.cdr.currency == "EUR"
    assert detail.cdr.total_cost_excl_vat == _expected_cost(outcome.energy_wh)
    assert world.cdr_count() == 1


async def _session(station: SimStation, plan: SessionPlan) -> SessionOutcome:
    outcome = await run_session(station, plan)
    await outcome.delivered(timeout=20)
    assert station.outbox_size == 0
    return outcome


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_full_session_gives_exactly_one_priced_cdr(world: World, protocol: str) -> None:
    station = await world.station("E2E-1", protocol)
    outcome = await _session(station, SessionPlan(TOKEN, CAR, max_duration_s=7200))
    await station.close()

    assert outcome.energy_wh == 22_000  # 11 kW for two hours
    _assert_one_priced_cdr(world, "E2E-1", outcome)
    assert world.detail("E2E-1", outcome.transaction_id).cdr.total_cost_excl_vat == (  # type: ignore[union-attr]
        Decimal("6.6"))


def _resend_candidates(station: SimStation) -> list[Any]:
    names = {"StartTransaction", "StopTransaction", "MeterValues", "TransactionEvent"}
    return [p for p in station.sent_payloads if type(p).__name__ in names]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_duplicates_do_not_double_anything(world: World, protocol: str) -> None:
    station = await world.station("E2E-1", protocol)
    outcome = await _session(station, SessionPlan(TOKEN, CAR, max_duration_s=1800))
    before = world.detail("E2E-1", outcome.transaction_id)

    # Every transaction message again (same seqNo, same timestamps), the start twice more.
    again = _resend_candidates(station)
    replies = [await station.call(p) for p in [*again, again[0]]]
    if protocol == "1.6":
        assert str(replies[-1].transaction_id) == outcome.transaction_id
        assert str(replies[0].transaction_id) == outcome.transaction_id

    after = world.detail("E2E-1", outcome.transaction_id)
    assert len(world.sessions("E2E-1")) == 1
    assert len(after.samples) == len(before.samples)
    assert after.session.energy_wh == before.session.energy_wh == outcome.energy_wh
    assert after.cdr == before.cdr
    _assert_one_priced_cdr(world, "E2E-1", outcome)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_offline_backlog_with_past_timestamps_gives_the_right_session(
        world: World, protocol: str) -> None:
    station = await world.station("E2E-1", protocol)
    plan = SessionPlan(TOKEN, CAR, max_duration_s=3600,
                       offline=(OfflineWindow(after_s=900, duration_s=1800),))
    outcome = await _session(station, plan)

    assert station.stats.queued_offline == 30
    assert outcome.energy_wh == 11_000
    _assert_one_priced_cdr(world, "E2E-1", outcome)
    detail = world.detail("E2E-1", outcome.transaction_id)
    assert detail.session.started_at == outcome.started_at
    assert detail.session.stopped_at == outcome.stopped_at


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_out_of_order_delivery_gives_the_right_session(world: World,
                                                             protocol: str) -> None:
    station = await world.station("E2E-1", protocol)
    await station.go_offline()
    outcome = await run_session(station, SessionPlan(TOKEN, CAR, max_duration_s=1800))
    queued = station.outbox_size  # start, 30 periodic samples, stop
    assert queued == 32
    # The start goes first (1.6 needs its transactionId), then the stop, then the samples
    # newest first.
    station.reorder_outbox([0, queued - 1, *range(queued - 2, 0, -1)])
    await station.come_online()
    await outcome.delivered(timeout=20)

    assert outcome.energy_wh == 5_500
    _assert_one_priced_cdr(world, "E2E-1", outcome)
    samples = world.detail("E2E-1", outcome.transaction_id).samples
    assert [s.at for s in samples] == sorted(s.at for s in samples)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_dropped_connection_continues_the_same_session(world: World,
                                                               protocol: str) -> None:
    station = await world.station("E2E-1", protocol)
    plan = SessionPlan(TOKEN, CAR, max_duration_s=3600, drop_after_s=(600, 1800, 3000))
    outcome = await _session(station, plan)

    assert station.stats.reconnects == 3
    assert outcome.energy_wh == 11_000
    _assert_one_priced_cdr(world, "E2E-1", outcome)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_signed_sessions_are_billed_on_the_signed_energy(world: World,
                                                               protocol: str) -> None:
    station = await world.station("E2E-1", protocol)
    station.signer = OcmfMeterSigner.for_station("E2E-1")
    outcome = await _session(station, SessionPlan(TOKEN, CAR, max_duration_s=3600))

    _assert_one_priced_cdr(world, "E2E-1", outcome)
    detail = world.detail("E2E-1", outcome.transaction_id)
    assert detail.cdr is not None and detail.cdr.energy_source == "signed"
    assert len(detail.signed_data) == 2
    assert all(text.startswith("OCMF|") for text in detail.signed_data)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_sessions_on_several_stations_at_once(world: World, protocol: str) -> None:
    import asyncio

    stations = [await world.station(sid, protocol) for sid in ("E2E-1", "E2E-2", "E2E-3")]
    outcomes = await asyncio.gather(*(
        _session(st, SessionPlan(TOKEN, CAR, max_duration_s=600 * (i + 1)))
        for i, st in enumerate(stations)))

    assert [o.energy_wh for o in outcomes] == [1_833, 3_666, 5_500]
    for station, outcome in zip(stations, outcomes, strict=True):
        [session] = world.sessions(station.config.station_id)
        assert session.state == "rated" and session.energy_wh == outcome.energy_wh
    assert world.cdr_count() == 3
