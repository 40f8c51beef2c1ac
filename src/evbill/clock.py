"""The wall clock, in one place: services and the shell take `now` from here (the core never
reads a clock; it is passed `now`)."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["utc_now"]


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)
