"""JSON in and out with exact numbers: decode numbers as Decimal, encode Decimal as number text."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

__all__ = ["dumps", "loads"]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number OCPI allows")


def loads(text: str | bytes) -> Any:
    """Decode JSON; every non-integer number becomes an exact `Decimal` (no float ever)."""
    return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)


def dumps(value: Any, *, indent: int | None = 2) -> str:
    """Encode JSON where a `Decimal` is written as its exact decimal text (never via float)."""
    parts: list[str] = []
    _encode(value, parts, indent, 0)
    return "".join(parts)


def _number_text(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError(f"{value} cannot be written as a JSON number")
    text = f"{value:f}"
    return "0" if text in ("-0", "-0.0") else text


def _encode(value: Any, out: list[str], indent: int | None, level: int) -> None:
    if isinstance(value, Decimal):
        out.append(_number_text(value))
    elif value is None or isinstance(value, (bool, int, str)):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, float):
        raise TypeError("a float reached the JSON encoder; money and meter values must be Decimal")
    elif isinstance(value, Enum):
        out.append(json.dumps(value.value, ensure_ascii=False))
    elif isinstance(value, (datetime, date)):
        out.append(json.dumps(value.isoformat()))
    elif isinstance(value, Mapping):
        _container(list(value.items()), out, indent, level, "{", "}")
    elif isinstance(value, (list, tuple)):
        _container(list(value), out, indent, level, "[", "]")
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def _container(items: list[Any], out: list[str], indent: int | None, level: int,
               open_: str, close: str) -> None:
    if not items:
        out.append(open_ + close)
        return
    is_map = open_ == "{"
    out.append(open_)
    pad = "" if indent is None else "\n" + " " * (indent * (level + 1))
    for i, item in enumerate(items):
        if i:
            out.append(",")
        out.append(pad)
        if is_map:
            key, val = item
            out.append(json.dumps(str(key), ensure_ascii=False))
            out.append(": " if indent is not None else ":")
            _encode(val, out, indent, level + 1)
        else:
            _encode(item, out, indent, level + 1)
    out.append("" if indent is None else "\n" + " " * (indent * level))
    out.append(close)
