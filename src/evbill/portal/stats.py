"""Figures for the portal's charts: a driver's kWh and spend per month, in their time zone."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from evbill.accounts.credentials import account_credentials
from evbill.store.tables import CdrRow, SessionRow

__all__ = ["MonthFigures", "driver_months", "month_starts"]


@dataclass(frozen=True, slots=True)
class MonthFigures:
    month: date  # first day
    energy_kwh: Decimal
    spend: Decimal  # incl. VAT, in `currency`
    sessions: int


def month_starts(now: datetime, count: int, zone: ZoneInfo) -> list[date]:
    """The first days of the last `count` months, oldest first, ending with `now`'s month."""
    local = now.astimezone(zone)
    year, month = local.year, local.month
    out = []
    for _ in range(count):
        out.append(date(year, month, 1))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return out[::-1]


def driver_months(s: Session, account: str, now: datetime, tz: str,
                  count: int = 12) -> tuple[list[MonthFigures], str]:  # fmt: skip
    """kWh and spend per month of a driver's rated sessions; returns figures and currency."""
    zone = ZoneInfo(tz)
    months = month_starts(now, count, zone)
    since = datetime(months[0].year, months[0].month, 1, tzinfo=zone)
    last = months[-1]
    # bounded above too: a stored far-future start (a station's broken clock) is outside
    # every chart and would overflow converting to local time
    until = datetime(last.year + (last.month == 12), last.month % 12 + 1, 1, tzinfo=zone)
    cards = account_credentials(account)
    rows = s.execute(
        select(SessionRow.started_at, CdrRow.total_energy_wh, CdrRow.total_cost_incl_vat,
               CdrRow.currency)
        .join(CdrRow, CdrRow.session_id == SessionRow.id)
        .where(SessionRow.id_token.in_(cards), SessionRow.started_at >= since,
               SessionRow.started_at < until)
    ).tuples().all()  # fmt: skip
    energy: defaultdict[date, Decimal] = defaultdict(Decimal)
    spend: defaultdict[date, Decimal] = defaultdict(Decimal)
    count_of: defaultdict[date, int] = defaultdict(int)
    currency = "EUR"
    for started, wh, gross, cur in rows:
        local = started.astimezone(zone)
        key = date(local.year, local.month, 1)
        energy[key] += wh / 1000
        spend[key] += gross or Decimal(0)
        count_of[key] += 1
        currency = cur
    return [MonthFigures(m, energy[m], spend[m], count_of[m]) for m in months], currency
