"""The engine's working unit: a stretch of a session over which no restriction changes its answer.

Both front ends (CDR periods, meter timelines) reduce a session to segments; the engine prices
segments. A segment carries the state at its start (what restrictions look at) and its volumes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Final
from zoneinfo import ZoneInfo

__all__ = ["Segment", "local_fields"]

ZERO = Decimal(0)


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL: Final = _EPOCH.toordinal()
_HOUR_S: Final = 3600
# zone → {UTC hour since the epoch: UTC offset in seconds, constant through that whole hour}
_offsets: dict[ZoneInfo, dict[int, int]] = {}
_CACHE_HOURS: Final = 100_000  # ~11 years of hours per zone before the cache starts over


def local_fields(instant: datetime, zone: ZoneInfo) -> tuple[int, int, int]:
    """(proleptic ordinal of the local date, weekday 0=Monday, whole seconds of the local day).

    The zone's UTC offset is cached per UTC hour where it holds for the whole hour; an hour
    that contains an offset change (or an offset with a fraction of a second) is converted
    exactly with `astimezone` every time.
    """
    delta = instant - _EPOCH
    ts = delta.days * 86400 + delta.seconds  # whole seconds, floored
    hour = ts // _HOUR_S
    hours = _offsets.get(zone)
    if hours is None:
        hours = _offsets[zone] = {}
    offset = hours.get(hour)
    if offset is None:
        offset = _hour_offset(zone, hour)
        if offset is None:
            local = instant.astimezone(zone)
            return (local.toordinal(), local.weekday(),
                    local.hour * 3600 + local.minute * 60 + local.second)
        if len(hours) >= _CACHE_HOURS:
            hours.clear()
        hours[hour] = offset
    days, second = divmod(ts + offset, 86400)
    day = days + _EPOCH_ORDINAL
    return (day, (day - 1) % 7, second)


def _hour_offset(zone: ZoneInfo, hour: int) -> int | None:
    """The zone's offset in whole seconds if it is the same at both ends of the UTC hour."""
    first = (_EPOCH + timedelta(hours=hour)).astimezone(zone).utcoffset()
    last = (_EPOCH + timedelta(hours=hour, seconds=_HOUR_S - 1)).astimezone(zone).utcoffset()
    if first is None or first != last or first.microseconds:
        return None
    return first.days * 86400 + first.seconds


class Segment:
    """Mutable while a front end builds it; the engine treats it as read-only."""

    __slots__ = (
        "charging_s",
        "current_max",
        "current_min",
        "day",
        "elapsed_s",
        "energy_before_wh",
        "energy_wh",
        "parking_s",
        "power_max_kw",
        "power_min_kw",
        "reservation",
        "reservation_s",
        "second_of_day",
        "source_index",
        "start",
        "weekday",
    )

    def __init__(  # positional: a CDR period or a timeline cut builds one, on the hot path
        self,
        start: datetime,
        local: tuple[int, int, int],
        elapsed_s: Decimal | int,
        energy_before_wh: Decimal,
        energy_wh: Decimal,
        charging_s: Decimal,
        parking_s: Decimal,
        reservation_s: Decimal,
        reservation: bool,
        power: tuple[Decimal | None, Decimal | None],
        current: tuple[Decimal | None, Decimal | None],
        source_index: int = -1,
    ) -> None:
        self.start = start
        self.day, self.weekday, self.second_of_day = local
        self.elapsed_s = elapsed_s  # seconds since the charging session started
        self.energy_before_wh = energy_before_wh  # session energy before this segment
        self.energy_wh = energy_wh
        self.charging_s = charging_s
        self.parking_s = parking_s
        self.reservation_s = reservation_s
        self.reservation = reservation
        self.power_min_kw, self.power_max_kw = power
        self.current_min, self.current_max = current
        self.source_index = source_index  # index of the CDR period it came from, if any
