"""Deterministic fault injection for the sandbox: fail the next N calls, or a seeded rate.

Three kinds of failure, because they differ in what a retry must cope with: a timeout
after the sandbox executed the request (the response is lost; only the idempotency key
saves the driver from a second charge), a timeout before it arrived, and an HTTP 5xx.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["FaultInjector", "FaultKind"]


class FaultKind(StrEnum):
    TIMEOUT = "timeout"  # executed, response lost
    TIMEOUT_BEFORE = "timeout_before"  # never reached the processor
    UNAVAILABLE = "unavailable"  # HTTP 503, not executed


@dataclass(frozen=True, slots=True)
class _Planned:
    kind: FaultKind
    operations: frozenset[str] | None  # None: any operation


class FaultInjector:
    """Decides, call by call, whether the sandbox fails. Same seed, same failures."""

    def __init__(
        self,
        rate: float = 0.0,
        seed: int = 0,
        kinds: tuple[FaultKind, ...] = tuple(FaultKind),
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate: must be within [0, 1], got {rate}")
        if not kinds:
            raise ValueError("kinds: at least one fault kind is needed for a rate")
        self.rate = rate
        self.kinds = kinds
        self._rng = random.Random(seed)
        self._planned: deque[_Planned] = deque()
        self.injected: list[tuple[str, FaultKind]] = []

    def fail_next(
        self,
        count: int = 1,
        kind: FaultKind = FaultKind.TIMEOUT,
        *,
        operations: set[str] | None = None,
    ) -> None:
        """Make the next `count` calls (of `operations`, if given) fail with `kind`."""
        ops = frozenset(operations) if operations is not None else None
        self._planned.extend(_Planned(kind, ops) for _ in range(count))

    def next_fault(self, operation: str) -> FaultKind | None:
        for planned in self._planned:
            if planned.operations is None or operation in planned.operations:
                self._planned.remove(planned)
                self.injected.append((operation, planned.kind))
                return planned.kind
        if self.rate and self._rng.random() < self.rate:
            kind = self.kinds[self._rng.randrange(len(self.kinds))]
            self.injected.append((operation, kind))
            return kind
        return None

    @property
    def pending(self) -> int:
        return len(self._planned)
