"""The evbill tables as typed SQLAlchemy 2 declarative models (schema changes go via Alembic).

Money and meter quantities are `ExactDecimal`, timestamps `UTCDateTime` (UTC, aware) with
the location's IANA time zone kept beside them; verbatim protocol payloads (OCPI JSON,
OCMF) are TEXT so they come back byte for byte.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from evbill.store.types import ExactDecimal, UTCDateTime

__all__ = [
    "Base",
    "CdrRow",
    "ConnectorRow",
    "EvseRow",
    "IdTokenRow",
    "MeterSampleRow",
    "ProcessedCommandRow",
    "SessionReviewRow",
    "SessionRow",
    "SignedMeterDataRow",
    "StationCommandRow",
    "StationRow",
    "TariffAssignmentRow",
    "TariffRow",
]

# Deterministic constraint names so migrations can refer to them on every backend.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        Decimal: ExactDecimal(),
        dict[str, Any]: JSON,
    }


class StationRow(Base):
    __tablename__ = "stations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    time_zone: Mapped[str] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(Text)
    operator: Mapped[str | None] = mapped_column(String(128))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    meter_public_key: Mapped[str | None] = mapped_column(Text)
    auto_registered: Mapped[bool] = mapped_column(Boolean, default=False)
    connected: Mapped[bool] = mapped_column(Boolean, default=False)
    connected_at: Mapped[datetime | None]
    last_seen_at: Mapped[datetime | None]
    booted_at: Mapped[datetime | None]
    protocol: Mapped[str | None] = mapped_column(String(16))
    vendor: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(64))
    serial_number: Mapped[str | None] = mapped_column(String(64))
    firmware_version: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]


class EvseRow(Base):
    __tablename__ = "evses"
    __table_args__ = (UniqueConstraint("station_id", "evse_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"))
    evse_id: Mapped[int]
    meter_public_key: Mapped[str | None] = mapped_column(Text)
    max_power_w: Mapped[int | None]  # the EVSE's maximum power (W), when known


class ConnectorRow(Base):
    __tablename__ = "connectors"
    __table_args__ = (UniqueConstraint("station_id", "evse_id", "connector_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"))
    evse_id: Mapped[int]
    connector_id: Mapped[int]
    status: Mapped[str] = mapped_column(String(32), default="Unknown")
    error_code: Mapped[str | None] = mapped_column(String(64))
    status_at: Mapped[datetime | None]


class IdTokenRow(Base):
    __tablename__ = "id_tokens"
    # One value, one credential, whatever the type (see accounts.credentials).
    __table_args__ = (UniqueConstraint("value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    value: Mapped[str] = mapped_column(String(255))  # the credential key (accounts.credentials)
    type: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # Accepted | Blocked | Invalid
    account: Mapped[str | None] = mapped_column(String(128))
    group_id: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    # Keyed hash of the verification code an issued card is linked with; None once linked.
    claim_code_hash: Mapped[str | None] = mapped_column(String(64))


class TariffRow(Base):
    __tablename__ = "tariffs"
    __table_args__ = (UniqueConstraint("tariff_id", "version"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tariff_id: Mapped[str] = mapped_column(String(36))
    version: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    ocpi_json: Mapped[str] = mapped_column(Text)  # verbatim, as the operator supplied it
    created_at: Mapped[datetime]


class TariffAssignmentRow(Base):
    __tablename__ = "tariff_assignments"
    __table_args__ = (
        CheckConstraint("is_default OR station_id IS NOT NULL", name="scope"),
        CheckConstraint("evse_id IS NULL OR station_id IS NOT NULL", name="evse_needs_station"),
        Index("ix_tariff_assignments_scope", "station_id", "evse_id", "valid_from"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tariff_pk: Mapped[int] = mapped_column(ForeignKey("tariffs.pk"))
    station_id: Mapped[str | None] = mapped_column(
        ForeignKey("stations.id", ondelete="CASCADE")
    )
    evse_id: Mapped[int | None]
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    valid_from: Mapped[datetime]
    created_at: Mapped[datetime]


class SessionRow(Base):
    __tablename__ = "sessions"
    __table_args__ = (
        UniqueConstraint("station_id", "transaction_id"),
        Index("ix_sessions_station_state", "station_id", "state"),
        Index("ix_sessions_started_at", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id"))
    evse_id: Mapped[int]
    connector_id: Mapped[int]
    transaction_id: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    id_token: Mapped[str | None] = mapped_column(String(255))
    id_token_type: Mapped[str | None] = mapped_column(String(32))
    authorization_status: Mapped[str | None] = mapped_column(String(16))
    started_at: Mapped[datetime]
    stopped_at: Mapped[datetime | None]
    meter_start_wh: Mapped[Decimal | None]
    meter_stop_wh: Mapped[Decimal | None]
    energy_wh: Mapped[Decimal]
    energy_source: Mapped[str] = mapped_column(String(16), default="meter")  # meter | signed
    time_zone: Mapped[str] = mapped_column(String(64))
    reservation_id: Mapped[int | None]
    charging_state: Mapped[str | None] = mapped_column(String(16))
    stop_reason: Mapped[str | None] = mapped_column(String(64))
    start_received: Mapped[bool] = mapped_column(Boolean, default=True)
    stop_received: Mapped[bool] = mapped_column(Boolean, default=False)
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    review_note: Mapped[str | None] = mapped_column(Text)
    tariff_pk: Mapped[int | None] = mapped_column(ForeignKey("tariffs.pk"))
    last_seq_no: Mapped[int | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    hold_reason: Mapped[str | None] = mapped_column(Text)  # why it is `held`, one per line
    released_by: Mapped[str | None] = mapped_column(String(128))  # operator who accepted it
    #: 2.x seqNo bookkeeping: {"high": highest seen, "missing": [numbers not seen below it]}
    seq_track: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class SessionReviewRow(Base):
    """The audit trail of what an operator did to a session (release, correct, re-rate)."""

    __tablename__ = "session_reviews"
    __table_args__ = (Index("ix_session_reviews_session", "session_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"))
    action: Mapped[str] = mapped_column(String(16))  # release | correct | rerate
    actor: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    state_before: Mapped[str] = mapped_column(String(16))
    state_after: Mapped[str] = mapped_column(String(16))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime]


class MeterSampleRow(Base):
    __tablename__ = "meter_samples"
    __table_args__ = (
        UniqueConstraint("session_id", "at", "context"),
        Index("ix_meter_samples_station_evse_at", "station_id", "evse_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # NULL: a 1.6 sample without transactionId that fell in no session's time (kept anyway).
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    station_id: Mapped[str] = mapped_column(String(64))
    evse_id: Mapped[int]
    at: Mapped[datetime]
    context: Mapped[str] = mapped_column(String(32))
    energy_wh: Mapped[Decimal | None]
    power_w: Mapped[Decimal | None]
    current_a: Mapped[Decimal | None]
    soc_percent: Mapped[Decimal | None]
    charging: Mapped[bool | None] = mapped_column(Boolean)
    received_at: Mapped[datetime]


class SignedMeterDataRow(Base):
    __tablename__ = "signed_meter_data"
    __table_args__ = (UniqueConstraint("session_id", "digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    context: Mapped[str] = mapped_column(String(32))
    encoding: Mapped[str] = mapped_column(String(36))
    signed_data: Mapped[str] = mapped_column(Text)  # verbatim
    public_key: Mapped[str | None] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))  # sha256 of signed_data, for dedup
    received_at: Mapped[datetime]


class CdrRow(Base):
    __tablename__ = "cdrs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # OCPI CDR id
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"), unique=True)
    currency: Mapped[str] = mapped_column(String(3))
    total_cost_excl_vat: Mapped[Decimal]
    total_cost_incl_vat: Mapped[Decimal | None]
    total_energy_wh: Mapped[Decimal]
    energy_source: Mapped[str] = mapped_column(String(16))
    ocpi_json: Mapped[str] = mapped_column(Text)
    tariff_pk: Mapped[int] = mapped_column(ForeignKey("tariffs.pk"))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ProcessedCommandRow(Base):
    """Deduplication: the key of every command that changed state, and its first answer."""

    __tablename__ = "processed_commands"
    __table_args__ = (Index("ix_processed_commands_created_at", "created_at"),)  # pruning

    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    station_id: Mapped[str] = mapped_column(String(64))
    answer: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]


class StationCommandRow(Base):
    """Outbox of operator commands for stations, drained by the gateway holding the socket."""

    __tablename__ = "station_commands"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sent', 'done', 'failed')", name="status"),
        Index("ix_station_commands_station_status", "station_id", "status", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
