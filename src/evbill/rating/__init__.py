"""Rating: a tariff, the location's time zone and a session → a priced OCPI CDR (pure, exact)."""

from __future__ import annotations

from evbill.rating.cdr import rate_cdr
from evbill.rating.timeline import rate_timeline
from evbill.rating.types import (
    LineKind,
    MeterSample,
    Price,
    PricedCdr,
    PricedLine,
    PricedPeriod,
    RatingError,
)

__all__ = [
    "LineKind",
    "MeterSample",
    "Price",
    "PricedCdr",
    "PricedLine",
    "PricedPeriod",
    "RatingError",
    "rate_cdr",
    "rate_timeline",
]
