"""Remote start and stop from the app: checks (the EVSE is free; a wallet payer holds the
station's wallet minimum), then a command in the station outbox that the gateway holding the
station's socket sends (`remote_start` / `remote_stop`)."""

from __future__ import annotations

import logging

from sqlalchemy import select

from evbill.api.auth import Principal
from evbill.api.context import ApiContext
from evbill.api.live import OPEN_STATES
from evbill.api.problems import BadRequest, Conflict, NotFound
from evbill.ocpp.outbox import REMOTE_START, REMOTE_STOP, remote_start_payload, remote_stop_payload
from evbill.payments.adhoc import AdhocService
from evbill.payments.modes import admit_start
from evbill.sessions.commands import IdToken, IdTokenType
from evbill.store.outbox import StationCommand
from evbill.store.tables import EvseRow, IdTokenRow, SessionRow

__all__ = ["adhoc_service", "driver_card", "start_charging", "stop_charging"]

log = logging.getLogger(__name__)


def driver_card(ctx: ApiContext, principal: Principal, token_id: int | None) -> IdToken:
    """The card a driver starts with: the one asked for, or their first accepted one."""
    with ctx.db.read_sessions() as s:
        stmt = select(IdTokenRow).where(IdTokenRow.account == principal.token_account)
        if token_id is not None:
            stmt = stmt.where(IdTokenRow.id == token_id)
        row = s.scalars(stmt.where(IdTokenRow.status == "Accepted").order_by(IdTokenRow.id)).first()
    if row is None:
        raise BadRequest("id_token_id: you have no accepted card with that id; add one first")
    return IdToken(row.value, IdTokenType(row.type))


def start_charging(
    ctx: ApiContext, station_id: str, evse_id: int, token: IdToken
) -> StationCommand:
    with ctx.db.read_sessions() as s:
        evse = s.scalars(select(EvseRow).where(EvseRow.station_id == station_id,
                                               EvseRow.evse_id == evse_id)).first()  # fmt: skip
        busy = s.scalars(select(SessionRow.id).where(
            SessionRow.station_id == station_id, SessionRow.evse_id == evse_id,
            SessionRow.state.in_(OPEN_STATES)).limit(1)).first()  # fmt: skip
    if evse is None:
        raise NotFound(f"evse: no EVSE {evse_id} at station {station_id!r}")
    if busy is not None:
        raise Conflict(f"evse: EVSE {evse_id} at {station_id!r} is already charging")
    admit_start(ctx, token.value, station_id)  # refused: nothing goes to the station
    cmd = ctx.outbox.enqueue(station_id, REMOTE_START, remote_start_payload(evse_id, token),
                             now=ctx.clock())  # fmt: skip
    log.info("api.remote_start station_id=%s evse_id=%d command_id=%s", station_id, evse_id,
             cmd.id)  # fmt: skip
    return cmd


def stop_charging(ctx: ApiContext, row: SessionRow) -> StationCommand:
    if row.state not in OPEN_STATES or not row.transaction_id:
        raise Conflict(f"session_id: session {row.id} is {row.state}, not running")
    cmd = ctx.outbox.enqueue(row.station_id, REMOTE_STOP, remote_stop_payload(row.transaction_id),
                             now=ctx.clock())  # fmt: skip
    log.info("api.remote_stop station_id=%s session_id=%d command_id=%s", row.station_id,
             row.id, cmd.id)  # fmt: skip
    return cmd


def adhoc_service(ctx: ApiContext) -> AdhocService:
    """The ad hoc payment flow, starting charges through this app's command outbox."""
    return AdhocService(ctx, lambda station_id, evse_id, token: start_charging(
        ctx, station_id, evse_id, token).id)
