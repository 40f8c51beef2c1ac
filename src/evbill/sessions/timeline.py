"""Rebuild a session's meter timeline from samples, by their timestamps (pure).

Stations deliver late and out of order; what counts is each sample's own time. The billed
timeline runs from the start to the stop: the start reading (meterStart) at the start time,
every energy sample inside the span in time order, and the stop reading (meterStop) at the
stop time. Samples outside the span are kept in the store but not used here.

Readings are reconciled within the precision the station reports them: a value below the
highest reading so far by less than the coarser step of the two (a 1.6 whole-Wh `meterStop`
of 66 after a sample of 66.25) is that same reading and takes its value; a larger drop (a
register reset, a meter running backwards) is kept as it is and listed in `Timeline.falls`,
for the plausibility check to hold the session (`evbill.sessions.plausibility`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from evbill.metering.readings import resolution, same_reading

__all__ = ["Fall", "Point", "Timeline", "build_timeline", "flatten", "pin_to_signed",
           "reconcile"]


@dataclass(frozen=True, slots=True)
class Point:
    """One sample as the store has it."""

    at: datetime
    energy_wh: Decimal | None
    power_w: Decimal | None = None
    current_a: Decimal | None = None
    charging: bool | None = None  # None: the station did not say (inherits the last known)


@dataclass(frozen=True, slots=True)
class Fall:
    """The register read lower than before by more than the reported precision."""

    at: datetime
    before_wh: Decimal
    after_wh: Decimal


@dataclass(frozen=True, slots=True)
class Timeline:
    """Energy points from start to stop (strictly increasing times), charging flags resolved."""

    points: tuple[Point, ...]
    falls: tuple[Fall, ...] = ()

    @property
    def energy_wh(self) -> Decimal:
        """Energy over the span: last register reading minus the first."""
        if len(self.points) < 1:
            return Decimal(0)
        first, last = self.points[0].energy_wh, self.points[-1].energy_wh
        assert first is not None and last is not None
        return last - first


def in_span(at: datetime, started_at: datetime, stopped_at: datetime | None) -> bool:
    return started_at <= at and (stopped_at is None or at <= stopped_at)


def build_timeline(
    started_at: datetime,
    stopped_at: datetime | None,
    meter_start_wh: Decimal | None,
    meter_stop_wh: Decimal | None,
    samples: Sequence[Point],
) -> Timeline:
    """The timeline of a session; empty when no energy reading is known at all.

    Without a meterStart the first energy sample stands for the start; without a meterStop
    the last energy sample inside the span stands for the stop. Of several samples with the
    same timestamp the first is kept; explicit start/stop readings win at their instants.
    """
    inside = sorted(
        (p for p in samples if p.energy_wh is not None and in_span(p.at, started_at, stopped_at)),
        key=lambda p: p.at,
    )
    by_time: dict[datetime, Point] = {}
    for point in inside:
        by_time.setdefault(point.at, point)
    begin_energy = meter_start_wh if meter_start_wh is not None else (
        inside[0].energy_wh if inside else None
    )  # fmt: skip
    if begin_energy is None:
        if meter_stop_wh is None:
            return Timeline(())
        begin_energy = meter_stop_wh
    first = by_time.pop(started_at, Point(started_at, begin_energy))
    by_time[started_at] = replace(first, energy_wh=_finer(begin_energy, first.energy_wh))
    end_at = stopped_at if stopped_at is not None else max(by_time)
    end_energy = meter_stop_wh
    if end_energy is None:
        end_energy = by_time[max(by_time)].energy_wh
    last = by_time.get(end_at, Point(end_at, end_energy))
    by_time[end_at] = replace(last, energy_wh=_finer(end_energy, last.energy_wh))
    ordered = [by_time[at] for at in sorted(by_time)]
    points, falls = reconcile(ordered)
    return Timeline(tuple(_resolve_charging(points)), falls)


def _finer(explicit: Decimal | None, sample: Decimal | None) -> Decimal | None:
    """The start/stop value, or the sample taken at the same instant when that is the same
    reading reported more precisely (a 1.6 meterStop 66 beside a Transaction.End 66.25)."""
    if explicit is None or sample is None or sample == explicit:
        return explicit
    if same_reading(max(explicit, sample), min(explicit, sample)) and \
            resolution(sample) < resolution(explicit):
        return sample
    return explicit


def reconcile(points: Sequence[Point]) -> tuple[list[Point], tuple[Fall, ...]]:
    """Points in time order with coarser copies of a reading raised to it, and the real falls.

    A fall is kept as reported (never silently dropped or smoothed) and the register counts
    on from its new value, so one reset is one fall, not one per later sample.
    """
    out: list[Point] = []
    falls: list[Fall] = []
    highest: Decimal | None = None
    for point in points:
        value = point.energy_wh
        if value is not None and highest is not None and value < highest:
            if same_reading(highest, value):
                point = replace(point, energy_wh=highest)
            else:
                falls.append(Fall(point.at, highest, value))
                highest = value
        elif value is not None:
            highest = value
        out.append(point)
    return out, tuple(falls)


def _resolve_charging(points: list[Point]) -> list[Point]:
    resolved: list[Point] = []
    charging = True
    for point in points:
        charging = point.charging if point.charging is not None else charging
        resolved.append(replace(point, charging=charging))
    return resolved


def pin_to_signed(timeline: Timeline, begin_wh: Decimal, end_wh: Decimal) -> Timeline:
    """The timeline re-based on the signed begin and end register readings.

    The first point takes the signed begin value and the last the signed end value; readings
    in between are clamped into [begin, end] so the billed energy is exactly end − begin.
    """
    points = list(timeline.points)
    if not points:
        return timeline
    if len(points) == 1:
        points.append(points[0])
    middle = [
        replace(p, energy_wh=min(max(p.energy_wh or begin_wh, begin_wh), end_wh))
        for p in points[1:-1]
    ]
    pinned = [replace(points[0], energy_wh=begin_wh), *middle,
              replace(points[-1], energy_wh=end_wh)]  # fmt: skip
    return Timeline(tuple(pinned))


def flatten(timeline: Timeline) -> Timeline:
    """The timeline an operator accepted: readings in between held inside [begin, end] and
    never lower than the one before, so a reset the end reading was corrected for bills
    end − begin. A timeline ending below its start is left as it is (rating refuses it)."""
    points = list(timeline.points)
    if len(points) < 2:
        return timeline
    begin, end = points[0].energy_wh, points[-1].energy_wh
    assert begin is not None and end is not None
    if end < begin:
        return timeline
    level = begin
    middle = []
    for p in points[1:-1]:
        level = min(max(p.energy_wh if p.energy_wh is not None else level, level), end)
        middle.append(replace(p, energy_wh=level))
    return Timeline((points[0], *middle, points[-1]))
