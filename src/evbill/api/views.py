"""Domain rows and read models → response bodies."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import Response
from pydantic_core import to_json

from evbill.api.history import Page, SessionItem
from evbill.api.live import OPEN_STATES, LiveView
from evbill.api.schemas import CdrOut, LiveOut, SessionOut, kwh, money_body, money_out
from evbill.money import Money
from evbill.store.tables import CdrRow
from evbill.tariffs import loads

__all__ = ["JsonBody", "cdr_out", "live_out", "session_body", "session_out", "session_page_body"]


class JsonBody(Response):
    """A JSON response from plain values (datetimes, Decimals included), serialized exactly
    as the response models would be but without building them: the hot read endpoints
    declare their model for the OpenAPI document and return this."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return to_json(content)


def session_body(item: SessionItem, base: str) -> dict[str, Any]:
    """A session as `SessionOut` describes it."""
    links = {"self": f"{base}/sessions/{item.id}", "live": f"{base}/sessions/{item.id}/live"}
    if item.cdr_id:
        links["cdr"] = f"{base}/cdrs/{item.cdr_id}"
    return {
        "id": item.id, "station_id": item.station_id, "evse_id": item.evse_id,
        "state": item.state, "started_at": item.started_at, "stopped_at": item.stopped_at,
        "energy_kwh": kwh(item.energy_wh),
        "total": None if item.total is None else money_body(item.total),
        "cdr_id": item.cdr_id, "links": links,
    }  # fmt: skip


def session_page_body(page: Page[SessionItem], base: str) -> dict[str, Any]:
    """A page of sessions as `SessionPage` describes it."""
    return {"items": [session_body(i, base) for i in page.items],
            "next_cursor": page.next_cursor}  # fmt: skip


def session_out(item: SessionItem, base: str) -> SessionOut:
    return SessionOut.model_validate(session_body(item, base))


def live_out(item: SessionItem, live: LiveView, base: str) -> LiveOut:
    cost = live.cost
    shown: Money | None = None if cost is None else cost.incl_vat
    if item.total is not None and item.state not in OPEN_STATES:
        shown = item.total  # a rated session: the CDR is the truth
    return LiveOut(
        session=session_out(item, base), energy_kwh=kwh(live.energy_wh),
        cost_so_far=money_out(shown),
        cost_so_far_excl_vat=None if cost is None else money_out(cost.excl_vat),
        power_kw=None if live.power_w is None else _kw(live.power_w),
        tariff_id=live.tariff_id, at=live.at, running=item.state in OPEN_STATES,
    )  # fmt: skip


def _kw(watts: Decimal) -> str:
    return f"{(watts / 1000).quantize(Decimal('0.1')):f}"


def cdr_out(row: CdrRow) -> CdrOut:
    ocpi: dict[str, Any] = loads(row.ocpi_json)
    incl = row.total_cost_incl_vat
    return CdrOut(
        id=row.id, session_id=row.session_id,
        total_excl_vat=money_out(Money(row.total_cost_excl_vat, row.currency)) or _never(),
        total_incl_vat=None if incl is None else money_out(Money(incl, row.currency)),
        energy_kwh=kwh(row.total_energy_wh), energy_source=row.energy_source,
        revision=row.revision, ocpi=_plain(ocpi),
    )  # fmt: skip


def _never() -> Any:
    raise AssertionError("money_out of a Money is never None")


def _plain(value: Any) -> Any:
    """OCPI JSON with Decimals as strings (as it travels in OCPI: numbers stay exact)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return f"{value:f}"
    return value
