"""Read models: stored rows → `SessionView` / `SessionDetail` for the operator, CLI and API."""

from __future__ import annotations

from evbill.sessions.commands import CdrView, SampleView, SessionDetail, SessionView
from evbill.sessions.timeline import in_span
from evbill.store.tables import CdrRow, SessionRow
from evbill.store.uow import UnitOfWork

__all__ = ["session_detail", "session_view"]


def session_view(row: SessionRow, cdr: CdrRow | None) -> SessionView:
    return SessionView(
        session_id=str(row.id), station_id=row.station_id, evse_id=row.evse_id,
        transaction_id=row.transaction_id or "", state=row.state, started_at=row.started_at,
        stopped_at=row.stopped_at, energy_wh=row.energy_wh, id_token=row.id_token,
        flags=tuple(row.flags or ()),
        total_cost_incl_vat=None if cdr is None else cdr.total_cost_incl_vat,
        currency=None if cdr is None else cdr.currency, hold_reason=row.hold_reason,
    )  # fmt: skip


def _cdr_view(cdr: CdrRow) -> CdrView:
    return CdrView(cdr.id, cdr.currency, cdr.total_cost_excl_vat, cdr.total_cost_incl_vat,
                   cdr.total_energy_wh, cdr.energy_source, cdr.ocpi_json)  # fmt: skip


def session_detail(uow: UnitOfWork, row: SessionRow) -> SessionDetail:
    cdr = uow.cdrs.for_session(row.id)
    samples = tuple(
        SampleView(s.at, s.context, s.energy_wh, s.power_w, s.current_a, s.soc_percent,
                   in_span(s.at, row.started_at, row.stopped_at))
        for s in uow.sessions.samples(row.id)
    )
    signed = tuple(s.signed_data for s in uow.sessions.signed_data(row.id))
    return SessionDetail(session_view(row, cdr), samples, signed,
                         None if cdr is None else _cdr_view(cdr), row.review_note)  # fmt: skip
