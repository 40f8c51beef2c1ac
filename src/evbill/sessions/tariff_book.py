"""The tariff book: OCPI tariffs stored verbatim and assigned to EVSEs, stations or the network.

"The tariff in force for an EVSE at a session's start" is then one query
(`TariffRepository.in_force`): the driver's customer-group tariff on the station operator's
network (`api_group_tariffs`, by the id token's `group_id`) over EVSE assignment over station
over network default, latest `valid_from` not after the start. `tariff_for_session` asks it
for a session (its EVSE, start and normalised id token): rating and live costs use it alike.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from evbill.accounts.tokens import normalize_token
from evbill.sessions.commands import IdTokenType
from evbill.store.database import Database
from evbill.store.tables import SessionRow, TariffAssignmentRow, TariffRow
from evbill.store.uow import UnitOfWork
from evbill.tariffs import TariffError, parse_tariff_json

__all__ = ["StoredTariff", "TariffBook", "TariffBookError", "tariff_for_session"]

log = logging.getLogger(__name__)


class TariffBookError(ValueError):
    """A tariff that cannot be stored or assigned (invalid, conflicting, bad scope)."""


@dataclass(frozen=True, slots=True)
class StoredTariff:
    pk: int
    tariff_id: str
    version: str
    currency: str


def tariff_for_session(uow: UnitOfWork, row: SessionRow) -> TariffRow | None:
    """The tariff in force for the session's EVSE at its start, for its driver: their
    customer-group tariff when their id token has one, else EVSE/station/default."""
    token, token_type = row.id_token, row.id_token_type
    known = {t.value for t in IdTokenType}
    if token is not None and token_type in known:  # an unknown type is matched as stored
        token = normalize_token(token, IdTokenType(token_type))
    return uow.tariffs.in_force(row.station_id, row.evse_id, row.started_at,
                                id_token=token, id_token_type=token_type)  # fmt: skip


class TariffBook:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(
        self,
        ocpi_json: str,
        *,
        now: datetime,
        station_id: str | None = None,
        evse_id: int | None = None,
        default: bool = False,
        valid_from: datetime | None = None,
    ) -> StoredTariff:
        """Validate and store the tariff (verbatim) and assign it; one transaction.

        The version is the tariff's `last_updated`; storing the same version again with the
        same text only adds the assignment, with different text it is refused.
        """
        try:
            tariff = parse_tariff_json(ocpi_json)
        except TariffError as exc:
            raise TariffBookError(f"tariff: {exc}") from None
        if evse_id is not None and station_id is None:
            raise TariffBookError("evse_id: an EVSE assignment needs a station")
        if station_id is None and not default:
            raise TariffBookError("scope: give a station (and EVSE) or make it the default")
        version = tariff.last_updated.isoformat()
        with UnitOfWork(self._db) as uow:
            if station_id is not None and uow.stations.get(station_id) is None:
                raise TariffBookError(f"station_id: station {station_id!r} is not registered")
            row = uow.tariffs.by_version(tariff.id, version)
            if row is not None and row.ocpi_json != ocpi_json:
                raise TariffBookError(
                    f"tariff: {tariff.id} version {version} is stored with other content; "
                    "change last_updated for a new version"
                )
            if row is None:
                row = uow.tariffs.add(TariffRow(tariff_id=tariff.id, version=version,
                                                currency=tariff.currency, ocpi_json=ocpi_json,
                                                created_at=now))  # fmt: skip
                uow.flush()
            uow.tariffs.assign(TariffAssignmentRow(
                tariff_pk=row.pk, station_id=station_id, evse_id=evse_id,
                is_default=default and station_id is None,
                valid_from=valid_from or tariff.start_date_time or tariff.last_updated,
                created_at=now,
            ))  # fmt: skip
            uow.commit()
            stored = StoredTariff(row.pk, row.tariff_id, row.version, row.currency)
        log.info("tariff.assigned tariff_id=%s version=%s station_id=%s evse_id=%s default=%s",
                 tariff.id, version, station_id, evse_id, default)  # fmt: skip
        return stored
