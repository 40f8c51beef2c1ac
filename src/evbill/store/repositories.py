"""Repositories: the only code that knows how rows are queried; services speak to these."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, and_, case, column, delete, literal, or_, select, table
from sqlalchemy.orm import Session

from evbill.accounts.credentials import same_kind_types
from evbill.store.tables import (
    CdrRow,
    ConnectorRow,
    EvseRow,
    IdTokenRow,
    MeterSampleRow,
    ProcessedCommandRow,
    SessionRow,
    SignedMeterDataRow,
    StationRow,
    TariffAssignmentRow,
    TariffRow,
)
from evbill.store.types import UTCDateTime

__all__ = [
    "CdrRepository",
    "ProcessedCommandRepository",
    "SessionRepository",
    "StationRepository",
    "TariffRepository",
    "TokenRepository",
]


class StationRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def get(self, station_id: str, *, for_update: bool = False) -> StationRow | None:
        if for_update:
            stmt = select(StationRow).where(StationRow.id == station_id).with_for_update()
            return self._s.scalars(stmt).first()
        return self._s.get(StationRow, station_id)

    def add(self, row: StationRow) -> StationRow:
        self._s.add(row)
        return row

    def list(self) -> Sequence[StationRow]:
        return self._s.scalars(select(StationRow).order_by(StationRow.id)).all()

    def evse(self, station_id: str, evse_id: int) -> EvseRow | None:
        stmt = select(EvseRow).where(EvseRow.station_id == station_id, EvseRow.evse_id == evse_id)
        return self._s.scalars(stmt).first()

    def ensure_evse(self, station_id: str, evse_id: int) -> EvseRow:
        row = self.evse(station_id, evse_id)
        if row is None:
            row = EvseRow(station_id=station_id, evse_id=evse_id)
            self._s.add(row)
        return row

    def evses(self, station_id: str) -> Sequence[EvseRow]:
        stmt = select(EvseRow).where(EvseRow.station_id == station_id).order_by(EvseRow.evse_id)
        return self._s.scalars(stmt).all()

    def connector(self, station_id: str, evse_id: int, connector_id: int) -> ConnectorRow | None:
        stmt = select(ConnectorRow).where(
            ConnectorRow.station_id == station_id,
            ConnectorRow.evse_id == evse_id,
            ConnectorRow.connector_id == connector_id,
        )
        return self._s.scalars(stmt).first()

    def ensure_connector(self, station_id: str, evse_id: int, connector_id: int) -> ConnectorRow:
        row = self.connector(station_id, evse_id, connector_id)
        if row is None:
            row = ConnectorRow(station_id=station_id, evse_id=evse_id, connector_id=connector_id)
            self._s.add(row)
        return row

    def connectors(self, station_id: str) -> Sequence[ConnectorRow]:
        stmt = (
            select(ConnectorRow)
            .where(ConnectorRow.station_id == station_id)
            .order_by(ConnectorRow.evse_id, ConnectorRow.connector_id)
        )
        return self._s.scalars(stmt).all()


class TokenRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    # Lookups go through `evbill.accounts.credentials.find_credential` (one key for all).

    def add(self, row: IdTokenRow) -> IdTokenRow:
        self._s.add(row)
        return row

    def list(self) -> Sequence[IdTokenRow]:
        return self._s.scalars(select(IdTokenRow).order_by(IdTokenRow.id)).all()


class TariffRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def get(self, pk: int) -> TariffRow | None:
        return self._s.get(TariffRow, pk)

    def by_version(self, tariff_id: str, version: str) -> TariffRow | None:
        stmt = select(TariffRow).where(
            TariffRow.tariff_id == tariff_id, TariffRow.version == version
        )
        return self._s.scalars(stmt).first()

    def add(self, row: TariffRow) -> TariffRow:
        self._s.add(row)
        return row

    def assign(self, row: TariffAssignmentRow) -> TariffAssignmentRow:
        self._s.add(row)
        return row

    def in_force(
        self,
        station_id: str,
        evse_id: int,
        at: datetime,
        *,
        id_token: str | None = None,
        id_token_type: str | None = None,
    ) -> TariffRow | None:
        """The tariff in force for the EVSE at `at`: the most specific scope wins (the id
        token's customer-group tariff on the station's operator network, then EVSE, then
        station, then the network default), then the latest `valid_from` not after `at`.

        One query: the group candidates (only when `id_token` is given) are a UNION ALL branch
        beside the assignment candidates."""
        specificity = case(
            (and_(TariffAssignmentRow.station_id == station_id,
                  TariffAssignmentRow.evse_id == evse_id), 3),
            (and_(TariffAssignmentRow.station_id == station_id,
                  TariffAssignmentRow.evse_id.is_(None)), 2),
            else_=1,
        )  # fmt: skip
        scoped = select(
            TariffAssignmentRow.tariff_pk.label("tariff_pk"),
            specificity.label("rank"),
            TariffAssignmentRow.valid_from.label("valid_from"),
            TariffAssignmentRow.id.label("seq"),
        ).where(
            TariffAssignmentRow.valid_from <= at,
            or_(
                and_(
                    TariffAssignmentRow.station_id == station_id,
                    or_(
                        TariffAssignmentRow.evse_id == evse_id,
                        TariffAssignmentRow.evse_id.is_(None),
                    ),
                ),
                and_(
                    TariffAssignmentRow.is_default.is_(True),
                    TariffAssignmentRow.station_id.is_(None),
                ),
            ),
        )
        candidates = (
            scoped.union_all(_group_candidates(station_id, id_token, id_token_type, at))
            if id_token is not None
            else scoped
        ).subquery()
        stmt = (
            select(TariffRow)
            .join(candidates, candidates.c.tariff_pk == TariffRow.pk)
            .order_by(
                candidates.c.rank.desc(),
                candidates.c.valid_from.desc(),
                candidates.c.seq.desc(),
            )
            .limit(1)
        )
        return self._s.scalars(stmt).first()

    def list(self) -> Sequence[TariffRow]:
        return self._s.scalars(select(TariffRow).order_by(TariffRow.pk)).all()


# `api_group_tariffs` (model `evbill.api.tables.GroupTariffRow`, migration 0003): read here as a
# lightweight table so the store and the session core never import the API package.
_GROUP_TARIFFS = table(
    "api_group_tariffs",
    column("id", Integer),
    column("operator_id", String),
    column("group_id", String),
    column("tariff_pk", Integer),
    column("valid_from", UTCDateTime()),
)


def _group_candidates(
    station_id: str, id_token: str, id_token_type: str | None, at: datetime
) -> Any:
    """Group-tariff candidates (rank 4): the token's group on the station's operator network."""
    g = _GROUP_TARIFFS.c
    token_match = [IdTokenRow.value == id_token]
    if id_token_type is not None:  # a card answers whatever card-like type was reported
        token_match.append(IdTokenRow.type.in_(same_kind_types(id_token_type)))
    return (
        select(g.tariff_pk, literal(4).label("rank"), g.valid_from, g.id)
        .join(IdTokenRow, IdTokenRow.group_id == g.group_id)
        .join(StationRow, StationRow.operator == g.operator_id)
        .where(StationRow.id == station_id, g.valid_from <= at, *token_match)
    )


class SessionRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, row: SessionRow) -> SessionRow:
        self._s.add(row)
        return row

    def get(self, session_id: int, *, for_update: bool = False) -> SessionRow | None:
        stmt = select(SessionRow).where(SessionRow.id == session_id)
        if for_update:
            stmt = stmt.with_for_update()
        return self._s.scalars(stmt).first()

    def by_transaction(
        self, station_id: str, transaction_id: str, *, for_update: bool = False
    ) -> SessionRow | None:
        stmt = select(SessionRow).where(
            SessionRow.station_id == station_id, SessionRow.transaction_id == transaction_id
        )
        if for_update:
            stmt = stmt.with_for_update()
        return self._s.scalars(stmt).first()

    def covering(self, station_id: str, evse_id: int, at: datetime) -> SessionRow | None:
        """The EVSE's session whose time span contains `at` (an open one has no end)."""
        stmt = (
            select(SessionRow)
            .where(
                SessionRow.station_id == station_id,
                SessionRow.evse_id == evse_id,
                SessionRow.started_at <= at,
                or_(SessionRow.stopped_at.is_(None), SessionRow.stopped_at >= at),
            )
            .order_by(SessionRow.started_at.desc())
            .limit(1)
        )
        return self._s.scalars(stmt).first()

    def open_sessions(self, station_id: str) -> Sequence[SessionRow]:
        stmt = select(SessionRow).where(
            SessionRow.station_id == station_id, SessionRow.stopped_at.is_(None)
        )
        return self._s.scalars(stmt.order_by(SessionRow.id)).all()

    def list(
        self,
        *,
        station_id: str | None = None,
        states: Sequence[str] = (),
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> Sequence[SessionRow]:
        stmt = select(SessionRow)
        if station_id is not None:
            stmt = stmt.where(SessionRow.station_id == station_id)
        if states:
            stmt = stmt.where(SessionRow.state.in_(list(states)))
        if since is not None:
            stmt = stmt.where(SessionRow.started_at >= since)
        if until is not None:
            stmt = stmt.where(SessionRow.started_at < until)
        stmt = stmt.order_by(SessionRow.started_at.desc(), SessionRow.id.desc()).limit(limit)
        return self._s.scalars(stmt).all()

    # --- samples and signed meter data ----------------------------------------------------
    def samples(self, session_id: int) -> Sequence[MeterSampleRow]:
        stmt = (
            select(MeterSampleRow)
            .where(MeterSampleRow.session_id == session_id)
            .order_by(MeterSampleRow.at, MeterSampleRow.id)
        )
        return self._s.scalars(stmt).all()

    def has_sample(self, session_id: int | None, at: datetime, context: str) -> bool:
        stmt = select(MeterSampleRow.id).where(
            MeterSampleRow.session_id == session_id
            if session_id is not None
            else MeterSampleRow.session_id.is_(None),
            MeterSampleRow.at == at,
            MeterSampleRow.context == context,
        )
        return self._s.scalars(stmt.limit(1)).first() is not None

    def add_sample(self, row: MeterSampleRow) -> None:
        self._s.add(row)

    def adopt_orphan_samples(self, row: SessionRow) -> int:
        """Attach samples stored without a session that fall inside `row`'s time span."""
        stmt = select(MeterSampleRow).where(
            MeterSampleRow.session_id.is_(None),
            MeterSampleRow.station_id == row.station_id,
            MeterSampleRow.evse_id == row.evse_id,
            MeterSampleRow.at >= row.started_at,
        )
        if row.stopped_at is not None:
            stmt = stmt.where(MeterSampleRow.at <= row.stopped_at)
        adopted = 0
        for sample in self._s.scalars(stmt):
            if not self.has_sample(row.id, sample.at, sample.context):
                sample.session_id = row.id
                adopted += 1
        return adopted

    def signed_data(self, session_id: int) -> Sequence[SignedMeterDataRow]:
        stmt = (
            select(SignedMeterDataRow)
            .where(SignedMeterDataRow.session_id == session_id)
            .order_by(SignedMeterDataRow.at, SignedMeterDataRow.id)
        )
        return self._s.scalars(stmt).all()

    def has_signed(self, session_id: int, digest: str) -> bool:
        stmt = select(SignedMeterDataRow.id).where(
            SignedMeterDataRow.session_id == session_id, SignedMeterDataRow.digest == digest
        )
        return self._s.scalars(stmt.limit(1)).first() is not None

    def add_signed(self, row: SignedMeterDataRow) -> None:
        self._s.add(row)

    def flush(self) -> None:
        self._s.flush()


class CdrRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def for_session(self, session_id: int) -> CdrRow | None:
        return self._s.scalars(select(CdrRow).where(CdrRow.session_id == session_id)).first()

    def get(self, cdr_id: str) -> CdrRow | None:
        return self._s.get(CdrRow, cdr_id)

    def add(self, row: CdrRow) -> CdrRow:
        self._s.add(row)
        return row


class ProcessedCommandRepository:
    """Dedup keys: claiming one inserts and flushes at once, so a concurrent twin blocks on
    the primary key and fails with IntegrityError instead of doing the work twice."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def get(self, key: str) -> ProcessedCommandRow | None:
        return self._s.get(ProcessedCommandRow, key, populate_existing=True)

    def claim(self, key: str, kind: str, station_id: str, now: datetime) -> ProcessedCommandRow:
        row = ProcessedCommandRow(key=key, kind=kind, station_id=station_id, created_at=now)
        self._s.add(row)
        self._s.flush()
        return row

    def prune(self, before: datetime, limit: int) -> int:
        """Forget up to `limit` keys claimed before `before`; returns how many went."""
        oldest = (select(ProcessedCommandRow.key).where(ProcessedCommandRow.created_at < before)
                  .order_by(ProcessedCommandRow.created_at).limit(limit))  # fmt: skip
        keys = list(self._s.scalars(oldest))
        if keys:
            self._s.execute(delete(ProcessedCommandRow).where(ProcessedCommandRow.key.in_(keys)))
        return len(keys)

    def set_answer(self, row: ProcessedCommandRow, answer: dict[str, Any]) -> None:
        row.answer = answer
