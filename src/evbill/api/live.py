"""A running session's energy and cost so far: the stored samples, rated with the session's
tariff by the rating engine up to `now` (time-based components keep counting while it runs)."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from evbill.api.ratelimit import TtlCache
from evbill.money import MoneyError
from evbill.rating import MeterSample, Price, RatingError, rate_timeline
from evbill.sessions.state import SessionState
from evbill.sessions.tariff_book import tariff_for_session as book_tariff_for_session
from evbill.sessions.timeline import Point, build_timeline
from evbill.store.tables import SessionRow, TariffRow
from evbill.store.uow import UnitOfWork
from evbill.tariffs import Tariff, TariffError, loads, parse_tariff

__all__ = ["OPEN_STATES", "LiveView", "TariffMemo", "live_view", "tariff_for_session"]

log = logging.getLogger(__name__)

OPEN_STATES = frozenset({SessionState.PENDING.value, SessionState.CHARGING.value,
                         SessionState.SUSPENDED.value, SessionState.PARKED.value})  # fmt: skip


@dataclass(frozen=True, slots=True)
class LiveView:
    energy_wh: Decimal
    cost: Price | None  # None: no tariff, or nothing to rate yet
    tariff_id: str | None
    power_w: Decimal | None
    at: datetime


def tariff_for_session(uow: UnitOfWork, row: SessionRow) -> TariffRow | None:
    """The tariff the session is (or will be) billed with: the one rating recorded, else the
    one in force at the start, exactly as `sessions.finish` chooses it (the driver's
    customer-group tariff first, then the EVSE, station and default tariffs)."""
    if row.tariff_pk is not None:
        return uow.tariffs.get(row.tariff_pk)
    return book_tariff_for_session(uow, row)  # group tariff included, as sessions.finish


@dataclass(frozen=True, slots=True)
class _Chosen:
    pk: int
    tariff_id: str
    tariff: Tariff


class TariffMemo:
    """What a polled live view would otherwise look up and parse on every request.

    Stored tariff versions never change (a new version is a new row), so a parsed tariff is
    kept by its key for good (LRU-bounded). Which tariff an unrated session uses is the one in
    force at its start; that is remembered for `choice_ttl_s` seconds, so an assignment
    back-dated before a running session's start shows in its live cost within that time (the
    final CDR always takes the assignment in force when it is rated)."""

    def __init__(self, choice_ttl_s: float = 60.0, size: int = 1024) -> None:
        self._choice: TtlCache[int] = TtlCache(choice_ttl_s, size=10 * size)
        self._parsed: TtlCache[_Chosen] = TtlCache(math.inf, size=size)

    def forget(self, session_id: int) -> None:
        """Look the session's tariff up afresh on its next poll."""
        self._choice.forget(str(session_id))

    def tariff(self, uow: UnitOfWork, row: SessionRow) -> _Chosen | None:
        stored: TariffRow | None = None
        pk = row.tariff_pk if row.tariff_pk is not None else self._choice.get(str(row.id))
        if pk is None:  # an unrated session whose choice is not remembered
            stored = tariff_for_session(uow, row)
            if stored is None:
                return None
            pk = stored.pk
            self._choice.put(str(row.id), pk)
        known = self._parsed.get(str(pk))
        if known is not None:
            return known
        stored = stored or uow.tariffs.get(pk)
        if stored is None:
            return None
        chosen = _Chosen(pk, stored.tariff_id, parse_tariff(loads(stored.ocpi_json)))
        self._parsed.put(str(pk), chosen)
        return chosen


def live_view(uow: UnitOfWork, row: SessionRow, now: datetime,
              memo: TariffMemo | None = None) -> LiveView:  # fmt: skip
    points = [Point(s.at, s.energy_wh, s.power_w, s.current_a, s.charging)
              for s in uow.sessions.samples(row.id)]  # fmt: skip
    timeline = build_timeline(row.started_at, row.stopped_at, row.meter_start_wh,
                              row.meter_stop_wh, points)  # fmt: skip
    power = next((p.power_w for p in reversed(points) if p.power_w is not None), None)
    samples = [MeterSample(p.at, p.energy_wh, p.power_w, p.current_a, bool(p.charging))
               for p in timeline.points if p.energy_wh is not None]  # fmt: skip
    if row.state in OPEN_STATES and samples and samples[-1].at < now:
        last = samples[-1]
        samples.append(MeterSample(now, last.energy_wh, last.power_w, last.current_a,
                                   last.charging))  # fmt: skip
    try:
        chosen = (memo or TariffMemo(0)).tariff(uow, row)
    except TariffError as exc:
        log.warning("session.live_tariff_unreadable session_id=%s error=%s", row.id, exc)
        return LiveView(timeline.energy_wh, None, None, power, now)
    if chosen is None or not samples:
        return LiveView(timeline.energy_wh, None, None, power, now)
    try:
        priced = rate_timeline(chosen.tariff, row.time_zone, samples,
                               reservation=row.reservation_id is not None)  # fmt: skip
    except (RatingError, MoneyError, ArithmeticError) as exc:
        log.warning("session.live_rating_failed session_id=%s error=%s", row.id, exc)
        return LiveView(timeline.energy_wh, None, chosen.tariff_id, power, now)
    return LiveView(timeline.energy_wh, priced.total_cost, chosen.tariff_id, power, now)
