"""The meter-timeline JSON format (`{"samples": [...]}`) read into `MeterSample`s.

```json
{"id": "S-1", "reservation": false,
 "samples": [{"at": "2024-06-10T17:30:00+02:00", "energy_wh": 0, "power_w": 11000,
              "current_a": 16, "charging": true}, ...]}
```
`at` is RFC 3339 with an offset (no offset means UTC); numbers may be JSON numbers or decimal
strings; `power_w`, `current_a` and `charging` (default true) are optional.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from evbill.rating.types import MeterSample, RatingError

__all__ = ["Timeline", "timeline_from_json"]


@dataclass(frozen=True, slots=True)
class Timeline:
    samples: tuple[MeterSample, ...]
    cdr_id: str | None = None
    reservation: bool = False


def _number(value: object, path: str, required: bool) -> Decimal | None:
    if value is None and not required:
        return None
    if isinstance(value, bool):
        raise RatingError(f"{path}: expected a number, got a boolean")
    try:
        if isinstance(value, (Decimal, int, str)):
            result = Decimal(value)
        elif isinstance(value, float):
            result = Decimal(repr(value))  # JSON boundary: the float's literal text
        else:
            raise RatingError(f"{path}: expected a number")
    except InvalidOperation:
        raise RatingError(f"{path}: {value!r} is not a decimal number") from None
    if not result.is_finite():
        raise RatingError(f"{path}: {value!r} is not a finite number")
    return result


def _sample(item: object, path: str) -> MeterSample:
    if not isinstance(item, Mapping):
        raise RatingError(f"{path}: expected an object")
    at = item.get("at")
    try:
        when = datetime.fromisoformat(at) if isinstance(at, str) else None
    except ValueError:
        when = None
    if when is None:
        raise RatingError(f"{path}.at: {at!r} is not an RFC 3339 date-time")
    charging = item.get("charging", True)
    if not isinstance(charging, bool):
        raise RatingError(f"{path}.charging: expected true or false")
    energy = _number(item.get("energy_wh"), f"{path}.energy_wh", True)
    assert energy is not None
    return MeterSample(
        at=when if when.tzinfo is not None else when.replace(tzinfo=UTC),
        energy_wh=energy,
        power_w=_number(item.get("power_w"), f"{path}.power_w", False),
        current_a=_number(item.get("current_a"), f"{path}.current_a", False),
        charging=charging,
    )


def timeline_from_json(data: Mapping[str, Any]) -> Timeline:
    """Read the timeline format; RatingError names the offending field."""
    raw = data.get("samples")
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise RatingError("samples: expected a list of samples")
    cdr_id = data.get("id", data.get("cdr_id"))
    reservation = data.get("reservation", False)
    if not isinstance(reservation, bool):
        raise RatingError("reservation: expected true or false")
    return Timeline(
        samples=tuple(_sample(item, f"samples[{i}]") for i, item in enumerate(raw)),
        cdr_id=cdr_id if isinstance(cdr_id, str) else None,
        reservation=reservation,
    )
