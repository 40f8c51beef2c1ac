"""The session state machine and the timeline rebuild (pure functions)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from evbill.sessions.commands import ChargingState
from evbill.sessions.state import (
    ALLOWED,
    IllegalTransition,
    SessionState,
    can_transition,
    state_for_charging,
    transition,
)
from evbill.sessions.timeline import Point, build_timeline, pin_to_signed

S = SessionState
T0 = datetime(2025, 1, 1, tzinfo=UTC)
D = Decimal


@pytest.mark.parametrize(
    ("current", "target"),
    [(S.PENDING, S.CHARGING), (S.CHARGING, S.SUSPENDED), (S.SUSPENDED, S.CHARGING),
     (S.CHARGING, S.PARKED), (S.PARKED, S.CHARGING), (S.SUSPENDED, S.PARKED),
     (S.PARKED, S.FINISHED), (S.PENDING, S.FINISHED), (S.FINISHED, S.RATED),
     (S.RATED, S.FINISHED)],
)  # fmt: skip
def test_allowed_transitions(current: SessionState, target: SessionState) -> None:
    assert transition(current, target) is target


@pytest.mark.parametrize(
    ("current", "target"),
    [(S.RATED, S.CHARGING), (S.FINISHED, S.CHARGING), (S.PENDING, S.RATED),
     (S.CHARGING, S.RATED), (S.PARKED, S.SUSPENDED), (S.FINISHED, S.PENDING)],
)  # fmt: skip
def test_illegal_transitions_raise(current: SessionState, target: SessionState) -> None:
    with pytest.raises(IllegalTransition, match=f"a {current} session cannot become {target}"):
        transition(current, target)


def test_every_state_reaches_rated_and_nothing_leaves_it_but_re_rating() -> None:
    for state in S:
        seen, frontier = {state}, [state]
        while frontier:
            for nxt in ALLOWED[frontier.pop()] - seen:
                seen.add(nxt)
                frontier.append(nxt)
        assert S.RATED in seen or state in (S.RATED, S.REFUSED)  # refused: never billed
    assert ALLOWED[S.RATED] == {S.FINISHED} and not can_transition(S.RATED, S.PENDING)


def test_charging_states_map_to_session_states() -> None:
    assert state_for_charging(ChargingState.SUSPENDED_EV) is S.SUSPENDED
    assert state_for_charging(ChargingState.EV_CONNECTED) is S.PARKED
    assert state_for_charging(ChargingState.IDLE) is None


def m(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_timeline_is_built_from_timestamps_not_arrival_order() -> None:
    samples = [Point(m(i), D(1000 + 10 * i)) for i in range(1, 60)]
    shuffled = samples[:]
    random.Random(7).shuffle(shuffled)
    late = [Point(m(70), D(99999))]  # after the stop: ignored
    ordered = build_timeline(m(0), m(60), D(1000), D(1600), samples)
    assert build_timeline(m(0), m(60), D(1000), D(1600), shuffled + late) == ordered
    assert [p.at for p in ordered.points] == [m(i) for i in range(61)]
    assert ordered.energy_wh == D(600)


def test_timeline_without_meter_start_or_stop_uses_samples() -> None:
    timeline = build_timeline(m(0), m(30), None, None,
                              [Point(m(20), D(50), charging=False), Point(m(5), D(10))])
    assert [(p.at, p.energy_wh, p.charging) for p in timeline.points] == [
        (m(0), D(10), True), (m(5), D(10), True), (m(20), D(50), False), (m(30), D(50), False),
    ]  # fmt: skip
    assert timeline.energy_wh == D(40)
    assert build_timeline(m(0), m(30), None, None, [Point(m(3), None)]).points == ()


def test_pin_to_signed_bills_exactly_the_signed_difference() -> None:
    timeline = build_timeline(m(0), m(60), D(1000), D(2100), [Point(m(30), D(2050))])
    pinned = pin_to_signed(timeline, D(1000), D(2000))
    assert pinned.energy_wh == D(1000)
    assert [p.energy_wh for p in pinned.points] == [D(1000), D(2000), D(2000)]
