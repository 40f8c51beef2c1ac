"""Field readers for OCPI JSON: each names the field path and the reason when a value is wrong.

Numbers become `Decimal`. A float that reaches us (a caller used plain `json.loads`) is turned
into a Decimal through its shortest repr, here at the boundary, and never used in arithmetic.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final, TypeVar

__all__ = ["FieldError", "Reader"]

E = TypeVar("E", bound=StrEnum)

_TIME_RE: Final = re.compile(r"([0-1][0-9]|2[0-3]):[0-5][0-9]")
_DATE_RE: Final = re.compile(r"([12][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])")
_MISSING: Final = object()


class FieldError(ValueError):
    """A JSON value that is missing or wrong; `path` names it (e.g. `elements[1].price`)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def _number(value: object, path: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise FieldError(path, f"expected a number, got {_kind(value)}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))  # the JSON boundary: exact text of the float literal
    else:
        raise FieldError(path, f"expected a number, got {_kind(value)}")
    if not result.is_finite():
        raise FieldError(path, f"{value!r} is not a finite number")
    return result


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return f"the string {value!r}"
    return type(value).__name__


def parse_datetime(value: object, path: str) -> datetime:
    """OCPI DateTime (RFC 3339, UTC; no zone designator means UTC)."""
    if not isinstance(value, str):
        raise FieldError(path, f"expected an RFC 3339 date-time string, got {_kind(value)}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise FieldError(path, f"{value!r} is not an RFC 3339 date-time") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


class Reader:
    """Reads typed fields out of one JSON object at a known path."""

    __slots__ = ("data", "path")

    def __init__(self, data: object, path: str) -> None:
        if not isinstance(data, Mapping):
            raise FieldError(path or "(root)", f"expected an object, got {_kind(data)}")
        self.data: Mapping[str, Any] = data
        self.path = path

    def at(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def _get(self, name: str, required: bool) -> Any:
        value = self.data.get(name, _MISSING)
        if value is None:  # OCPI: an explicit null is the same as absent
            value = _MISSING
        if value is _MISSING and required:
            raise FieldError(self.at(name), "is required")
        return value

    def string(self, name: str, *, max_len: int, min_len: int = 1) -> str:
        value = self._get(name, True)
        return self._check_string(name, value, min_len, max_len)

    def opt_string(self, name: str, *, max_len: int) -> str | None:
        value = self._get(name, False)
        if value is _MISSING:
            return None
        return self._check_string(name, value, 1, max_len)

    def _check_string(self, name: str, value: object, min_len: int, max_len: int) -> str:
        if not isinstance(value, str):
            raise FieldError(self.at(name), f"expected a string, got {_kind(value)}")
        if not min_len <= len(value) <= max_len:
            raise FieldError(
                self.at(name), f"length {len(value)} is outside {min_len}..{max_len} characters"
            )
        return value

    def number(self, name: str, *, minimum: Decimal | None = Decimal(0)) -> Decimal:
        result = _number(self._get(name, True), self.at(name))
        return self._check_min(name, result, minimum)

    def opt_number(self, name: str, *, minimum: Decimal | None = Decimal(0)) -> Decimal | None:
        value = self._get(name, False)
        if value is _MISSING:
            return None
        return self._check_min(name, _number(value, self.at(name)), minimum)

    def _check_min(self, name: str, value: Decimal, minimum: Decimal | None) -> Decimal:
        if minimum is not None and value < minimum:
            raise FieldError(self.at(name), f"{value} is negative" if minimum == 0
                             else f"{value} is below {minimum}")
        return value

    def integer(self, name: str, *, minimum: int = 0) -> int:
        return self._check_int(name, self._get(name, True), minimum)

    def opt_integer(self, name: str, *, minimum: int = 0) -> int | None:
        value = self._get(name, False)
        if value is _MISSING:
            return None
        return self._check_int(name, value, minimum)

    def _check_int(self, name: str, value: object, minimum: int) -> int:
        number = _number(value, self.at(name))
        if number != number.to_integral_value():
            raise FieldError(self.at(name), f"expected a whole number, got {number}")
        result = int(number)
        if result < minimum:
            raise FieldError(self.at(name), f"{result} is negative" if minimum == 0
                             else f"{result} is below {minimum}")
        return result

    def boolean(self, name: str) -> bool:
        value = self._get(name, True)
        if not isinstance(value, bool):
            raise FieldError(self.at(name), f"expected true or false, got {_kind(value)}")
        return value

    def enum(self, name: str, kind: type[E]) -> E:
        return self._check_enum(self.at(name), self._get(name, True), kind)

    def opt_enum(self, name: str, kind: type[E]) -> E | None:
        value = self._get(name, False)
        if value is _MISSING:
            return None
        return self._check_enum(self.at(name), value, kind)

    @staticmethod
    def _check_enum(path: str, value: object, kind: type[E]) -> E:
        allowed = ", ".join(m.value for m in kind)
        if not isinstance(value, str):
            raise FieldError(path, f"expected one of {allowed}, got {_kind(value)}")
        try:
            return kind(value)
        except ValueError:
            raise FieldError(path, f"{value!r} is not one of {allowed}") from None

    def opt_time(self, name: str) -> str | None:
        value = self._get(name, False)
        if value is _MISSING:
            return None
        if not isinstance(value, str) or not _TIME_RE.fullmatch(value):
            raise FieldError(self.at(name), f"{value!r} is not a time of day HH:MM (00:00-23:59)")
        return value

    def opt_date(self, name: str) -> date | None:
        value = self._get(name, False)
        if value is _MISSING:
            return None
        if not isinstance(value, str) or not _DATE_RE.fullmatch(value):
            raise FieldError(self.at(name), f"{value!r} is not a date YYYY-MM-DD")
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise FieldError(self.at(name), f"{value!r} is not a calendar date") from None

    def date_time(self, name: str) -> datetime:
        return parse_datetime(self._get(name, True), self.at(name))

    def opt_datetime(self, name: str) -> datetime | None:
        value = self._get(name, False)
        if value is _MISSING:
            return None
        return parse_datetime(value, self.at(name))

    def items(self, name: str, *, required: bool, non_empty: bool = False) -> list[tuple[str, Any]]:
        """(path, value) for each entry of a JSON array field."""
        value = self._get(name, required)
        if value is _MISSING:
            return []
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise FieldError(self.at(name), f"expected a list, got {_kind(value)}")
        if non_empty and not value:
            raise FieldError(self.at(name), "must contain at least one entry")
        return [(f"{self.at(name)}[{i}]", item) for i, item in enumerate(value)]

    def child(self, name: str) -> Reader | None:
        value = self._get(name, False)
        if value is _MISSING:
            return None
        return Reader(value, self.at(name))

