"""The Jinja2 environment of the portal: autoescaped templates, shared page context."""

from __future__ import annotations

from datetime import datetime, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from jinja2 import Environment, FileSystemLoader, select_autoescape

__all__ = ["TEMPLATES", "render"]

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(),
                      trim_blocks=True, lstrip_blocks=True)  # fmt: skip
    env.filters["local"] = local_time
    return env


def local_time(at: datetime | None, zone: tzinfo, fmt: str, missing: str = "—") -> str:
    """`at` in the page's time zone; a stored time at the edge of the calendar (year 1 or
    9999, a broken station clock) that cannot be shifted is shown as it is, in UTC."""
    if at is None:
        return missing
    try:
        return at.astimezone(zone).strftime(fmt)
    except (OverflowError, ValueError):
        return at.strftime(fmt) + " UTC"


def render(request: Request, name: str, context: dict[str, Any]) -> str:
    values: dict[str, Any] = {"request": request, "path": request.url.path, "who": None,
                              "csrf": "", "flash": None}  # fmt: skip
    values.update(context)
    return environment().get_template(name).render(values)
