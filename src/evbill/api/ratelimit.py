"""Sign-in rate limiting (failed attempts per key in a sliding window) and a small TTL cache,
both in process memory.

Keys are the email's lookup hash and the client address, so one account cannot be
brute-forced from many addresses nor many accounts from one. Several API processes each keep
their own window; put a shared limiter in the load balancer when running more than one.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, defaultdict, deque
from typing import Generic, TypeVar

V = TypeVar("V")

__all__ = ["LoginLimiter", "TtlCache"]


class LoginLimiter:
    def __init__(self, attempts: int, window_s: int) -> None:
        self._attempts = attempts
        self._window = float(window_s)
        self._failures: defaultdict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _prune(self, key: str, now: float) -> deque[float]:
        times = self._failures[key]
        while times and times[0] <= now - self._window:
            times.popleft()
        return times

    def retry_after(self, keys: list[str], now: float) -> int:
        """Seconds until a blocked key may try again (0: not blocked)."""
        wait = 0.0
        with self._lock:
            for key in keys:
                times = self._prune(key, now)
                if len(times) >= self._attempts:
                    wait = max(wait, times[0] + self._window - now)
        return int(wait) + 1 if wait > 0 else 0

    def failed(self, keys: list[str], now: float) -> None:
        with self._lock:
            for key in keys:
                self._prune(key, now).append(now)

    def succeeded(self, keys: list[str]) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)


class TtlCache(Generic[V]):
    """Values kept `ttl_s` seconds (0: nothing is kept), at most `size` of them (LRU)."""

    def __init__(self, ttl_s: float, size: int = 10_000) -> None:
        self._ttl, self._size = ttl_s, size
        self._items: OrderedDict[str, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> V | None:
        with self._lock:
            item = self._items.get(key)
            if item is None or item[0] < time.monotonic():
                return None
            self._items.move_to_end(key)
            return item[1]

    def forget(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)

    def put(self, key: str, value: V) -> None:
        if self._ttl <= 0:
            return
        with self._lock:
            self._items[key] = (time.monotonic() + self._ttl, value)
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
