"""Whether a tariff may price a session: its start/end_date_time against the session start."""

from __future__ import annotations

from datetime import datetime

from evbill.rating.types import RatingError
from evbill.tariffs.model import Tariff, format_datetime

__all__ = ["check_validity"]


def check_validity(tariff: Tariff, session_start: datetime) -> None:
    """The driver accepts the tariff valid when the session starts; outside it, refuse to price."""
    if tariff.start_date_time is not None and session_start < tariff.start_date_time:
        raise RatingError(
            f"tariff {tariff.id}: not valid before start_date_time "
            f"{format_datetime(tariff.start_date_time)} (session starts "
            f"{format_datetime(session_start)})"
        )
    if tariff.end_date_time is not None and session_start >= tariff.end_date_time:
        raise RatingError(
            f"tariff {tariff.id}: not valid after end_date_time "
            f"{format_datetime(tariff.end_date_time)} (session starts "
            f"{format_datetime(session_start)})"
        )
