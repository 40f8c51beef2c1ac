"""Instants where a local wall-clock test can change: boundaries of the day and DST transitions."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["local_cuts"]

_DAY = timedelta(days=1)


def local_cuts(zone: ZoneInfo, start: datetime, end: datetime,
               boundaries: tuple[int, ...]) -> list[datetime]:
    """UTC instants strictly inside (start, end) where the local time of day reaches a boundary
    (seconds of the day), counting a repeated hour twice, plus every UTC offset change (where
    the wall clock jumps, skipping or repeating boundaries)."""
    if not boundaries:
        return []
    found: set[datetime] = set()
    day = start.astimezone(zone).date() - _DAY
    last = end.astimezone(zone).date() + _DAY
    while day <= last:
        for second in boundaries:
            naive = datetime.combine(day, time(second // 3600, second % 3600 // 60))
            for fold in (0, 1):
                instant = naive.replace(tzinfo=zone, fold=fold).astimezone(UTC)
                if start < instant < end and \
                        instant.astimezone(zone).replace(tzinfo=None) == naive:
                    found.add(instant)
        transition = _transition(zone, day)
        if transition is not None and start < transition < end:
            found.add(transition)
        day += _DAY
    return sorted(found)


def _transition(zone: ZoneInfo, day: date) -> datetime | None:
    """The first instant with a new UTC offset during the local `day`, if the offset changes."""
    lo = datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)
    nxt = day + _DAY
    hi = datetime(nxt.year, nxt.month, nxt.day, tzinfo=zone).astimezone(UTC)
    if lo.astimezone(zone).utcoffset() == hi.astimezone(zone).utcoffset():
        return None
    first_offset = lo.astimezone(zone).utcoffset()
    lo_s, hi_s = 0, (hi - lo) // timedelta(seconds=1)
    while hi_s - lo_s > 1:  # invariant: offset at lo_s is the old one, at hi_s the new one
        mid = (lo_s + hi_s) // 2
        if (lo + timedelta(seconds=mid)).astimezone(zone).utcoffset() == first_offset:
            lo_s = mid
        else:
            hi_s = mid
    return lo + timedelta(seconds=hi_s)
