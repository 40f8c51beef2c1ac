"""Clocks for simulated stations: real time, accelerated time, and virtual time for tests."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["AcceleratedClock", "Clock", "RealClock", "VirtualClock", "ocpp_timestamp"]


class Clock(Protocol):
    """What a simulated station reads the time from and waits on."""

    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class RealClock:
    """Wall-clock time; sleeping really waits."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class AcceleratedClock:
    """Time that runs `factor` times faster than the wall clock, starting at `start`."""

    def __init__(self, start: datetime, factor: float) -> None:
        if start.tzinfo is None:
            raise ValueError("start: must be timezone-aware")
        if factor <= 0:
            raise ValueError(f"factor: must be positive, got {factor}")
        self._start = start
        self._factor = factor
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(time.monotonic() - self._t0) * self._factor)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds / self._factor)


class VirtualClock:
    """Time that moves only when someone sleeps on it: a 2-hour session takes no real time.

    Each station gets its own virtual clock; sleeping yields to the event loop once so other
    stations and the socket reader still run.
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("start: must be timezone-aware")
        self._now = start

    def now(self) -> datetime:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"seconds: cannot sleep a negative time ({seconds})")
        self._now += timedelta(seconds=seconds)
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        """Move time forward without yielding (for tests that stage events)."""
        self._now += timedelta(seconds=seconds)


def ocpp_timestamp(at: datetime) -> str:
    """RFC 3339 UTC timestamp with milliseconds and a `Z`, as OCPP stations send it."""
    if at.tzinfo is None:
        raise ValueError("at: must be timezone-aware")
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
