"""Typed, bounded path and query parameters: ids, names, time zones and instants.

Every route declares its parameters with these types, so an out-of-range value (an id past
64 bits, an unknown zone, a year 9999 instant) is a 422 problem before any handler or query
runs, never an overflow deep in a driver or `zoneinfo`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Path, Query
from pydantic import AfterValidator

__all__ = [
    "EARLIEST",
    "LATEST",
    "MAX_ROW_ID",
    "EvseId",
    "Instant",
    "Name",
    "OptionalInstant",
    "RowId",
    "TimeZone",
    "bounded_instant",
    "known_zone",
]

#: Largest id a BIGINT column holds on both databases (SQLite INTEGER, PostgreSQL BIGINT).
MAX_ROW_ID = 2**63 - 1
#: Instants outside these years are refused: no charging session happens there, and
#: arithmetic near datetime's own limits overflows.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
_NAME_MAX = 128


def known_zone(value: str) -> str:
    """`value` if it names an IANA time zone (ValueError otherwise)."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError("not an IANA time zone (e.g. Europe/Berlin)") from None
    return value


def bounded_instant(value: datetime) -> datetime:
    """`value` if it has an offset and lies between 2000 and 2200 (ValueError otherwise)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("give an ISO 8601 time with an offset (e.g. Z)")
    try:
        inside = EARLIEST <= value <= LATEST
    except OverflowError:
        inside = False
    if not inside:
        raise ValueError("must lie between 2000-01-01 and 2200-01-01")
    return value


RowId = Annotated[int, Path(ge=0, le=MAX_ROW_ID, description="a numeric id")]
EvseId = Annotated[int, Path(ge=0, le=2**31 - 1, description="the EVSE's number")]
Name = Annotated[str, Path(min_length=1, max_length=_NAME_MAX, description="an id or number")]
TimeZone = Annotated[str, Query(max_length=64, description="IANA time zone"),
                     AfterValidator(known_zone)]
Instant = Annotated[datetime, AfterValidator(bounded_instant)]
OptionalInstant = Annotated[datetime | None, Query(description="ISO 8601 with an offset"),
                            AfterValidator(lambda v: None if v is None else bounded_instant(v))]
