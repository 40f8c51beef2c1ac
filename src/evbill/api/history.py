"""Read queries over sessions and CDRs, scoped to a driver's cards or an operator's network.

A resource outside the caller's scope is `NotFound` (404), never a hint that it exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import ColumnElement, Connection, Select, Table, and_, bindparam, or_, select
from sqlalchemy.orm import Session

from evbill.accounts.credentials import account_credentials
from evbill.accounts.roles import Role
from evbill.api.auth import Principal
from evbill.api.pagination import Window, encode_cursor, keyset
from evbill.api.problems import NotFound
from evbill.api.ratelimit import TtlCache
from evbill.money import Money
from evbill.store.tables import CdrRow, SessionRow, StationRow

__all__ = [
    "Page",
    "SessionItem",
    "cdr_page",
    "driver_cards",
    "find_session",
    "find_session_item",
    "scope_filter",
    "session_page",
]


@dataclass(frozen=True, slots=True)
class SessionItem:
    id: int
    station_id: str
    evse_id: int
    state: str
    started_at: datetime
    stopped_at: datetime | None
    energy_wh: Decimal
    total: Money | None  # the CDR's total incl. VAT, once rated
    cdr_id: str | None
    id_token: str | None
    time_zone: str


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def scope_filter(principal: Principal, s: Session | None = None) -> ColumnElement[bool]:
    """Which sessions the caller may see: a driver's cards, or its operator's stations.

    With a session at hand the driver's card values are read first and inlined, so the
    history query walks `ix_sessions_id_token_started` per card instead of the whole table.
    """
    if principal.role is Role.DRIVER:
        cards = account_credentials(principal.token_account)
        if s is not None:
            return SessionRow.id_token.in_(list(s.scalars(cards)))
        return SessionRow.id_token.in_(cards)
    stations = select(StationRow.id).where(StationRow.operator == principal.network)
    return SessionRow.station_id.in_(stations)


_SESSIONS = cast(Table, SessionRow.__table__)
_CDRS = cast(Table, CdrRow.__table__)
_STATIONS = cast(Table, StationRow.__table__)
_CARDS = account_credentials(bindparam("account"))
#: What a history item shows (read by `_item`), and where it comes from: a session with its
#: CDR, if rated.
_COLUMNS = (_SESSIONS.c.id, _SESSIONS.c.station_id, _SESSIONS.c.evse_id, _SESSIONS.c.state,
            _SESSIONS.c.started_at, _SESSIONS.c.stopped_at, _SESSIONS.c.energy_wh,
            _SESSIONS.c.id_token, _SESSIONS.c.time_zone, _CDRS.c.id,
            _CDRS.c.total_cost_incl_vat, _CDRS.c.currency)  # fmt: skip
_WITH_CDR = _SESSIONS.outerjoin(_CDRS, _CDRS.c.session_id == _SESSIONS.c.id)


def _item(r: Any) -> SessionItem:
    total = None if r[10] is None else Money(r[10], r[11])
    return SessionItem(r[0], r[1], r[2], r[3], r[4], r[5], r[6], total, r[9], r[7], r[8])


@lru_cache(maxsize=128)
def _page_query(drivers: bool, cursor: bool, since: bool, until: bool, state: bool,
                station: bool) -> Select[Any]:  # fmt: skip
    """The history query for one combination of filters, built once with bound parameters
    (a page request then costs one cached execution, not a statement construction).

    A driver's cards are passed as a list (read first), so the query walks
    `ix_sessions_id_token_started` per card instead of sorting the driver's whole history."""
    s = _SESSIONS.c
    stmt = select(*_COLUMNS).select_from(_WITH_CDR)
    if drivers:
        stmt = stmt.where(s.id_token.in_(bindparam("cards", expanding=True)))
    else:
        network = select(_STATIONS.c.id).where(_STATIONS.c.operator == bindparam("network"))
        stmt = stmt.where(s.station_id.in_(network))
    if station:
        stmt = stmt.where(s.station_id == bindparam("station_id"))
    if state:
        stmt = stmt.where(s.state == bindparam("state"))
    if since:
        stmt = stmt.where(s.started_at >= bindparam("since"))
    if until:
        stmt = stmt.where(s.started_at < bindparam("until"))
    if cursor:
        stmt = stmt.where(or_(s.started_at < bindparam("at"),
                              and_(s.started_at == bindparam("at"), s.id < bindparam("after"))))
    return stmt.order_by(s.started_at.desc(), s.id.desc()).limit(bindparam("limit"))


def driver_cards(conn: Connection, account: str | None,
                 cache: TtlCache[tuple[str, ...]] | None = None) -> tuple[str, ...]:  # fmt: skip
    """The values of a driver account's cards, remembered in `cache` when one is given (the
    API keeps them as briefly as a user's role: a card added in another process shows in
    this one's history within `EVBILL_API_USER_CACHE_S`)."""
    key = account or ""
    known = None if cache is None else cache.get(key)
    if known is None:
        known = tuple(conn.execute(_CARDS, {"account": account}).scalars())
        if cache is not None:
            cache.put(key, known)
    return known


def session_page(
    conn: Connection, principal: Principal, win: Window,
    station_id: str | None = None, state: str | None = None,
    cards: TtlCache[tuple[str, ...]] | None = None,
) -> Page[SessionItem]:  # fmt: skip
    """One page of the caller's sessions (with their CDR totals), newest first: two indexed
    reads (the driver's cards, then the page) on `conn` (`Database.reader()`, or an ORM
    session's `.connection()`)."""
    params: dict[str, Any] = {"limit": win.limit + 1, "station_id": station_id, "state": state,
                              "since": win.since, "until": win.until}  # fmt: skip
    driver = principal.role is Role.DRIVER
    if driver:
        params["cards"] = list(driver_cards(conn, principal.token_account, cards))
    else:
        params["network"] = principal.network
    if win.cursor is not None:
        params["at"], params["after"] = win.cursor.at, win.cursor.id
    stmt = _page_query(driver, win.cursor is not None, win.since is not None,
                       win.until is not None, state is not None, station_id is not None)
    rows = conn.execute(stmt, {k: v for k, v in params.items() if v is not None}).all()
    items = [_item(r) for r in rows[: win.limit]]
    more = len(rows) > win.limit
    nxt = encode_cursor(items[-1].started_at, items[-1].id) if more and items else None
    return Page(items, nxt)


def find_session(s: Session, principal: Principal, session_id: int) -> SessionRow:
    row = s.scalars(select(SessionRow).where(SessionRow.id == session_id,
                                             scope_filter(principal))).first()  # fmt: skip
    if row is None:
        raise NotFound(f"session_id: no session {session_id}")
    return row


def find_session_item(s: Session, principal: Principal,
                      session_id: int) -> tuple[SessionRow, SessionItem]:  # fmt: skip
    """The session (in the caller's scope) and its history item, with its CDR, in one read."""
    found = s.execute(select(SessionRow, *_COLUMNS).select_from(_WITH_CDR)
                      .where(SessionRow.id == session_id, scope_filter(principal))).first()
    if found is None:
        raise NotFound(f"session_id: no session {session_id}")
    return found[0], _item(found[1:])


def cdr_page(s: Session, principal: Principal, win: Window) -> Page[CdrRow]:
    stmt = (
        select(CdrRow, SessionRow.started_at)
        .join(SessionRow, SessionRow.id == CdrRow.session_id)
        .where(scope_filter(principal, s))
    )
    rows = s.execute(keyset(stmt, SessionRow.started_at, SessionRow.id, win)).all()
    items: list[CdrRow] = [r[0] for r in rows[: win.limit]]
    more = len(rows) > win.limit
    nxt = encode_cursor(rows[win.limit - 1][1], items[-1].session_id) if more else None
    return Page(items, nxt)


def find_cdr(s: Session, principal: Principal, cdr_id: str) -> CdrRow:
    stmt = (select(CdrRow).join(SessionRow, SessionRow.id == CdrRow.session_id)
            .where(CdrRow.id == cdr_id, scope_filter(principal)))  # fmt: skip
    row = s.scalars(stmt).first()
    if row is None:
        raise NotFound(f"cdr_id: no CDR {cdr_id!r}")
    return row
