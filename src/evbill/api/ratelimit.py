"""Sign-in rate limiting: failed attempts per key in a sliding window (in process memory).

Keys are the email's lookup hash and the client address, so one account cannot be
brute-forced from many addresses nor many accounts from one. Several API processes each keep
their own window; put a shared limiter in the load balancer when running more than one.
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque

__all__ = ["LoginLimiter"]


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
