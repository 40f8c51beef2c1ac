"""Failed station handshakes, counted per remote address and per station id in a sliding
window, so that guessing passwords (or flooding the gateway with wrong ones) is answered with
HTTP 429 in the event loop, before any store lookup.

An address over its budget is refused outright. A station id over its budget is refused
only to addresses that have failed in the window: the real station, connecting from an
address with a clean record, still gets in while someone floods its id from elsewhere.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["HandshakeThrottle", "ThrottleDecision"]

#: Most addresses and station ids remembered at once (a flood of spoofed ids cannot grow
#: the tables without bound; past it, expired entries are dropped first, then everything).
_MAX_KEYS = 100_000


@dataclass(frozen=True, slots=True)
class ThrottleDecision:
    allowed: bool
    retry_after_s: int = 0
    reason: str = ""


class HandshakeThrottle:
    def __init__(self, *, per_address: int, per_station: int, window_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.per_address = per_address
        self.per_station = per_station
        self.window_s = window_s
        self._clock = clock
        self._addresses: dict[str, deque[float]] = {}
        self._stations: dict[str, deque[float]] = {}

    def check(self, address: str, station_id: str) -> ThrottleDecision:
        """Whether a handshake from `address` for `station_id` may be checked at all. An
        allowed attempt counts as a failure until `succeeded` says otherwise, so a burst of
        concurrent attempts cannot all slip in before the first one fails."""
        now = self._clock()
        by_address = self._recent(self._addresses, address, now)
        if len(by_address) >= self.per_address:
            return ThrottleDecision(False, self._retry(by_address, now),
                                    "too many failed handshakes from this address")
        by_station = self._recent(self._stations, station_id, now)
        if len(by_station) >= self.per_station and by_address:
            return ThrottleDecision(False, self._retry(by_station, now),
                                    "too many failed handshakes for this station")
        self._count(address, station_id, now)
        return ThrottleDecision(True)

    def succeeded(self, address: str, station_id: str) -> None:
        """The attempt let through by `check` passed: it no longer counts as a failure."""
        for table, key in ((self._addresses, address), (self._stations, station_id)):
            times = table.get(key)
            if times:
                times.pop()
                if not times:
                    del table[key]

    def _count(self, address: str, station_id: str, now: float) -> None:
        if len(self._addresses) + len(self._stations) > _MAX_KEYS:
            self._prune(now)
        for table, key in ((self._addresses, address), (self._stations, station_id)):
            table.setdefault(key, deque()).append(now)

    def _recent(self, table: dict[str, deque[float]], key: str, now: float) -> deque[float]:
        times = table.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del table[key]
        return times

    def _retry(self, times: deque[float], now: float) -> int:
        return max(1, math.ceil(times[0] + self.window_s - now))

    def _prune(self, now: float) -> None:
        for table in (self._addresses, self._stations):
            for key in [k for k, t in table.items() if not t or t[-1] <= now - self.window_s]:
                del table[key]
        if len(self._addresses) + len(self._stations) > _MAX_KEYS:
            self._addresses.clear()
            self._stations.clear()
