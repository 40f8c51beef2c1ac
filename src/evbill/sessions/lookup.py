"""Lookups every session command needs: the station (or a clear error) and a token's answer."""

from __future__ import annotations

from datetime import datetime

from evbill.accounts.credentials import find_credential
from evbill.config import Settings
from evbill.sessions.authorization import TokenRecord, decide
from evbill.sessions.commands import AuthorizationResult, IdToken, IdTokenType
from evbill.store.tables import StationRow
from evbill.store.uow import UnitOfWork

__all__ = ["SessionError", "UnknownStation", "authorize_token", "require_station"]


class SessionError(RuntimeError):
    """A session command that cannot be applied."""


class UnknownStation(SessionError):
    """A command from a station that is not registered (and was not auto-registered)."""


def require_station(uow: UnitOfWork, station_id: str) -> StationRow:
    station = uow.stations.get(station_id)
    if station is None:
        raise UnknownStation(f"station_id: station {station_id!r} is not registered")
    return station


def authorize_token(
    uow: UnitOfWork, token: IdToken | None, at: datetime, settings: Settings
) -> AuthorizationResult:
    """Look the token up (see `evbill.sessions.authorization` for the policy) and decide.

    The credential is found by `evbill.accounts.credentials.find_credential`: a card answers
    whatever card-like type the station reports (ISO14443, ISO15693, Local, Central, KeyCode);
    eMAID and MacAddress match only their own kind."""
    record = None
    if token is not None and token.type is not IdTokenType.NO_AUTHORIZATION:
        row = find_credential(uow.session, token.value, token.type)
        if row is not None:
            record = TokenRecord(row.status, row.group_id, row.expires_at)
    return decide(token, record, at, accept_no_authorization=settings.accept_no_authorization)
