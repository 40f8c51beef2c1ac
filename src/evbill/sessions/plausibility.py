"""Is a session's reading believable enough to bill? (pure: values in, reasons out)

Checked before any money moves (`evbill.sessions.finish`); any reason holds the session for
an operator (`held`), nothing is rated or charged until one releases or corrects it:

- power: the energy over the session's time may not exceed the EVSE's maximum power × the
  elapsed time, plus a tolerance (a 2147483647 Wh `meterStop` one minute in is 128 GW);
- register: it never falls by more than the precision it is reported in (a reset, a meter
  running backwards: `evbill.sessions.timeline.reconcile` lists the falls);
- clock: no timestamp later than now plus the clock-skew allowance, none long before the
  station was registered (a station newly moved to evbill may hand over up to a month of
  sessions it kept, and the demo back-dates a day; earlier is a clock reset);
- signed data: where the signed (OCMF) begin/end give an energy, the unsigned readings agree
  with it within 1 % (at least 2 Wh).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final

from evbill.sessions.timeline import Timeline

__all__ = ["Limits", "implausible"]

_ONE: Final = Decimal(1)
_HOUR: Final = Decimal(3600)
_HUNDRED: Final = Decimal(100)
_SLACK_WH: Final = Decimal(1)  # one whole-Wh step: a second-long session may show 1 Wh
_SIGNED_SHARE: Final = Decimal("0.01")
_SIGNED_MIN_WH: Final = Decimal(2)
_BEFORE_REGISTRATION: Final = timedelta(days=31)


@dataclass(frozen=True, slots=True)
class Limits:
    """What a session is checked against."""

    now: datetime
    max_power_w: Decimal
    tolerance_percent: Decimal
    clock_skew: timedelta
    station_since: datetime | None  # None: not known (an auto-registered station)


def implausible(
    timeline: Timeline,
    started_at: datetime,
    stopped_at: datetime | None,
    limits: Limits,
    signed_energy_wh: Decimal | None = None,
) -> list[str]:
    """Why the readings cannot be billed as they are (empty: they can)."""
    reasons = [
        f"register fell from {_wh(f.before_wh)} Wh to {_wh(f.after_wh)} Wh at "
        f"{f.at.isoformat()} "
        "(a reset or a meter running backwards)"
        for f in timeline.falls
    ]
    reasons += _clock(timeline, started_at, stopped_at, limits)
    reasons += _power(timeline, limits)
    if signed_energy_wh is not None and len(timeline.points) >= 2:
        unsigned = timeline.energy_wh
        allowed = max(_SIGNED_MIN_WH, abs(signed_energy_wh) * _SIGNED_SHARE)
        if abs(unsigned - signed_energy_wh) > allowed:
            reasons.append(f"signed energy {_wh(signed_energy_wh)} Wh differs from the "
                           f"unsigned readings' {_wh(unsigned)} Wh by more than "
                           f"{_wh(allowed)} Wh")
    return reasons


def _clock(timeline: Timeline, started_at: datetime, stopped_at: datetime | None,
           limits: Limits) -> list[str]:
    latest_ok = limits.now + limits.clock_skew
    times = [started_at, *([stopped_at] if stopped_at else []), *(p.at for p in timeline.points)]
    reasons = []
    future = max(times)
    if future > latest_ok:
        reasons.append(f"timestamp {future.isoformat()} is in the future (received at "
                       f"{limits.now.isoformat()}, clock skew allowed "
                       f"{int(limits.clock_skew.total_seconds())} s)")
    if limits.station_since is not None:
        earliest = min(times)
        if earliest < limits.station_since - max(limits.clock_skew, _BEFORE_REGISTRATION):
            reasons.append(f"timestamp {earliest.isoformat()} is before the station was "
                           f"registered ({limits.station_since.isoformat()})")
    return reasons


def _power(timeline: Timeline, limits: Limits) -> list[str]:
    points = timeline.points
    if len(points) < 2:
        return []
    energy = timeline.energy_wh
    seconds = Decimal(str((points[-1].at - points[0].at).total_seconds()))
    factor = 1 + limits.tolerance_percent / _HUNDRED
    allowed = limits.max_power_w * seconds / _HOUR * factor + _SLACK_WH
    if energy <= allowed:
        return []
    return [f"{_wh(energy)} Wh in {_wh(seconds)} s is more than the EVSE's maximum "
            f"{_wh(limits.max_power_w / 1000)} kW allows ({_wh(allowed.quantize(_ONE))} Wh "
            f"with {_wh(limits.tolerance_percent)} % tolerance)"]


def _wh(value: Decimal) -> str:
    """A quantity as people write it: 10500, 0.5, never 1.05E+4 or 10500.000."""
    return format(value.normalize(), "f")
