"""Sign-in rate limiting (failed attempts per key in a sliding window, kept in the database so
that every API process on it shares one window) and a small TTL cache in process memory.

Keys are the email's lookup hash and the client address, so one account cannot be
brute-forced from many addresses nor many accounts from one. An attempt is counted before its
password is checked and withdrawn if the password was right, so attempts running at the same
time, in any process, count against each other: racing attempts cannot check more wrong
passwords per key and window than allowed (a right one clears the email's count).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar, cast

from sqlalchemy import Delete, Table, delete, insert, or_, select, tuple_

from evbill.api.tables import LoginFailureRow
from evbill.store.database import Database

V = TypeVar("V")

__all__ = ["LoginLimiter", "SignInAttempt", "TtlCache"]

_FAILURES = cast(Table, LoginFailureRow.__table__)
_C = _FAILURES.c


@dataclass(frozen=True, slots=True)
class SignInAttempt:
    """An attempt counted under its keys while its password is checked. `retry_after` > 0:
    refused and not counted; seconds until the keys may try again."""

    attempt_id: str
    retry_after: int


class LoginLimiter:
    """At most `attempts` failed sign-ins per key within `window_s` seconds, counted in the
    `api_login_failures` table (keys stored as an HMAC under `pepper`)."""

    #: Expired rows deleted per counted attempt at most: more than an attempt adds, so the
    #: table never holds much beyond the window, and no attempt pays for a large backlog.
    PRUNE_BATCH = 200

    def __init__(self, db: Database, attempts: int, window_s: int, *, pepper: bytes) -> None:
        self._db = db
        self._attempts = attempts
        self._window = timedelta(seconds=window_s)
        self._pepper = pepper

    def _digest(self, key: str) -> str:
        return hmac.new(self._pepper, key.encode("utf-8"), hashlib.sha256).hexdigest()

    def retry_after(self, keys: Sequence[str], now: datetime, *, besides: str = "") -> int:
        """Seconds until every key may try again (0: none is blocked), not counting the
        attempt `besides`. A key is blocked while `attempts` of its rows are in the window;
        it frees up when the oldest of those that keep it blocked ages out."""
        wait = 0.0
        with self._db.reader() as conn:
            for key in dict.fromkeys(keys):
                blocking = conn.execute(
                    select(_C.failed_at)
                    .where(_C.key_digest == self._digest(key), _C.failed_at > now - self._window,
                           _C.attempt_id != besides)
                    .order_by(_C.failed_at.desc())
                    .limit(1)
                    .offset(self._attempts - 1)
                ).scalar_one_or_none()
                if blocking is not None:
                    wait = max(wait, (blocking + self._window - now).total_seconds())
        return math.ceil(wait)

    def attempt(self, keys: Sequence[str], now: datetime) -> SignInAttempt:
        """Count a sign-in attempt under every key before its password is checked. Refused
        (nothing counted) when a key is blocked, counting the attempts of every process;
        otherwise it stays counted as a failure unless `succeeded` withdraws it."""
        wait = self.retry_after(keys, now)
        if wait:  # the common answer under attack: a read, no write
            return SignInAttempt("", wait)
        attempt_id = secrets.token_hex(16)
        rows = [{"attempt_id": attempt_id, "key_digest": self._digest(key), "failed_at": now}
                for key in dict.fromkeys(keys)]  # fmt: skip
        with self._db.sessions() as s, s.begin():
            s.execute(self._prune(now))
            s.execute(insert(_FAILURES), rows)
        # Counted again once our rows are committed: of two attempts racing for the last
        # place, the one that commits second sees the other's rows (both may be refused,
        # never both admitted).
        wait = self.retry_after(keys, now, besides=attempt_id)
        if wait:
            with self._db.sessions() as s, s.begin():
                s.execute(delete(_FAILURES).where(_C.attempt_id == attempt_id))
            return SignInAttempt("", wait)
        return SignInAttempt(attempt_id, 0)

    def succeeded(self, attempt: SignInAttempt, clear: Sequence[str]) -> None:
        """Withdraw `attempt` (its password was right) and forget every failure of the keys
        in `clear` (the email's)."""
        digests = [self._digest(key) for key in clear]
        with self._db.sessions() as s, s.begin():
            s.execute(delete(_FAILURES).where(or_(_C.attempt_id == attempt.attempt_id,
                                                  _C.key_digest.in_(digests))))  # fmt: skip

    def _prune(self, now: datetime) -> Delete:
        # SKIP LOCKED (PostgreSQL; SQLite has one writer and ignores it): processes pruning
        # at once take disjoint rows and never wait for each other.
        expired = (
            select(_C.attempt_id, _C.key_digest)
            .where(_C.failed_at <= now - self._window)
            .limit(self.PRUNE_BATCH)
            .with_for_update(skip_locked=True)
        )
        return delete(_FAILURES).where(tuple_(_C.attempt_id, _C.key_digest).in_(expired))


class TtlCache(Generic[V]):
    """Values kept `ttl_s` seconds (0: nothing is kept; `math.inf`: until evicted), at most
    `size` of them (LRU)."""

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
