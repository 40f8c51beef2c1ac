"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Column types frozen as they were at this revision (the DDL evbill.store.types rendered):
# a timezone-aware timestamp, and an exact decimal (NUMERIC; a decimal string on SQLite).
_UTC = sa.DateTime(timezone=True)
_DECIMAL = sa.Numeric(asdecimal=True).with_variant(sa.String(length=64), "sqlite")


def upgrade() -> None:
    op.create_table(
        "id_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("account", sa.String(length=128), nullable=True),
        sa.Column("group_id", sa.String(length=64), nullable=True),
        sa.Column("expires_at", _UTC, nullable=True),
        sa.Column("created_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_id_tokens")),
        sa.UniqueConstraint("value", "type", name=op.f("uq_id_tokens_value_type")),
    )
    op.create_table(
        "processed_commands",
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=True),
        sa.Column("created_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_processed_commands")),
    )
    op.create_table(
        "stations",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("operator", sa.String(length=128), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("meter_public_key", sa.Text(), nullable=True),
        sa.Column("auto_registered", sa.Boolean(), nullable=False),
        sa.Column("connected", sa.Boolean(), nullable=False),
        sa.Column("connected_at", _UTC, nullable=True),
        sa.Column("last_seen_at", _UTC, nullable=True),
        sa.Column("booted_at", _UTC, nullable=True),
        sa.Column("protocol", sa.String(length=16), nullable=True),
        sa.Column("vendor", sa.String(length=64), nullable=True),
        sa.Column("model", sa.String(length=64), nullable=True),
        sa.Column("serial_number", sa.String(length=64), nullable=True),
        sa.Column("firmware_version", sa.String(length=64), nullable=True),
        sa.Column("created_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stations")),
    )
    op.create_table(
        "tariffs",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tariff_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("ocpi_json", sa.Text(), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_tariffs")),
        sa.UniqueConstraint("tariff_id", "version", name=op.f("uq_tariffs_tariff_id_version")),
    )
    op.create_table(
        "connectors",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("status_at", _UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name=op.f("fk_connectors_station_id_stations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connectors")),
        sa.UniqueConstraint(
            "station_id",
            "evse_id",
            "connector_id",
            name=op.f("uq_connectors_station_id_evse_id_connector_id"),
        ),
    )
    op.create_table(
        "evses",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("meter_public_key", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name=op.f("fk_evses_station_id_stations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evses")),
        sa.UniqueConstraint("station_id", "evse_id", name=op.f("uq_evses_station_id_evse_id")),
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("transaction_id", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("id_token", sa.String(length=255), nullable=True),
        sa.Column("id_token_type", sa.String(length=32), nullable=True),
        sa.Column("authorization_status", sa.String(length=16), nullable=True),
        sa.Column("started_at", _UTC, nullable=False),
        sa.Column("stopped_at", _UTC, nullable=True),
        sa.Column("meter_start_wh", _DECIMAL, nullable=True),
        sa.Column("meter_stop_wh", _DECIMAL, nullable=True),
        sa.Column("energy_wh", _DECIMAL, nullable=False),
        sa.Column("energy_source", sa.String(length=16), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("reservation_id", sa.Integer(), nullable=True),
        sa.Column("charging_state", sa.String(length=16), nullable=True),
        sa.Column("stop_reason", sa.String(length=64), nullable=True),
        sa.Column("start_received", sa.Boolean(), nullable=False),
        sa.Column("stop_received", sa.Boolean(), nullable=False),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.Column("tariff_pk", sa.Integer(), nullable=True),
        sa.Column("last_seq_no", sa.Integer(), nullable=True),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"], ["stations.id"], name=op.f("fk_sessions_station_id_stations")
        ),
        sa.ForeignKeyConstraint(
            ["tariff_pk"], ["tariffs.pk"], name=op.f("fk_sessions_tariff_pk_tariffs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
        sa.UniqueConstraint(
            "station_id", "transaction_id", name=op.f("uq_sessions_station_id_transaction_id")
        ),
    )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.create_index("ix_sessions_started_at", ["started_at"], unique=False)
        batch_op.create_index("ix_sessions_station_state", ["station_id", "state"], unique=False)

    op.create_table(
        "station_commands",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("sent_at", _UTC, nullable=True),
        sa.Column("finished_at", _UTC, nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'done', 'failed')",
            name=op.f("ck_station_commands_status"),
        ),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name=op.f("fk_station_commands_station_id_stations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_station_commands")),
    )
    with op.batch_alter_table("station_commands", schema=None) as batch_op:
        batch_op.create_index(
            "ix_station_commands_station_status",
            ["station_id", "status", "created_at"],
            unique=False,
        )

    op.create_table(
        "tariff_assignments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tariff_pk", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=True),
        sa.Column("evse_id", sa.Integer(), nullable=True),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("valid_from", _UTC, nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.CheckConstraint(
            "evse_id IS NULL OR station_id IS NOT NULL",
            name=op.f("ck_tariff_assignments_evse_needs_station"),
        ),
        sa.CheckConstraint(
            "is_default OR station_id IS NOT NULL", name=op.f("ck_tariff_assignments_scope")
        ),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name=op.f("fk_tariff_assignments_station_id_stations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tariff_pk"], ["tariffs.pk"], name=op.f("fk_tariff_assignments_tariff_pk_tariffs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tariff_assignments")),
    )
    with op.batch_alter_table("tariff_assignments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_tariff_assignments_scope", ["station_id", "evse_id", "valid_from"], unique=False
        )

    op.create_table(
        "cdrs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total_cost_excl_vat", _DECIMAL, nullable=False),
        sa.Column("total_cost_incl_vat", _DECIMAL, nullable=True),
        sa.Column("total_energy_wh", _DECIMAL, nullable=False),
        sa.Column("energy_source", sa.String(length=16), nullable=False),
        sa.Column("ocpi_json", sa.Text(), nullable=False),
        sa.Column("tariff_pk", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name=op.f("fk_cdrs_session_id_sessions")
        ),
        sa.ForeignKeyConstraint(
            ["tariff_pk"], ["tariffs.pk"], name=op.f("fk_cdrs_tariff_pk_tariffs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cdrs")),
        sa.UniqueConstraint("session_id", name=op.f("uq_cdrs_session_id")),
    )
    op.create_table(
        "meter_samples",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("at", _UTC, nullable=False),
        sa.Column("context", sa.String(length=32), nullable=False),
        sa.Column("energy_wh", _DECIMAL, nullable=True),
        sa.Column("power_w", _DECIMAL, nullable=True),
        sa.Column("current_a", _DECIMAL, nullable=True),
        sa.Column("soc_percent", _DECIMAL, nullable=True),
        sa.Column("charging", sa.Boolean(), nullable=True),
        sa.Column("received_at", _UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_meter_samples_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter_samples")),
        sa.UniqueConstraint(
            "session_id", "at", "context", name=op.f("uq_meter_samples_session_id_at_context")
        ),
    )
    with op.batch_alter_table("meter_samples", schema=None) as batch_op:
        batch_op.create_index(
            "ix_meter_samples_station_evse_at", ["station_id", "evse_id", "at"], unique=False
        )

    op.create_table(
        "signed_meter_data",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("at", _UTC, nullable=False),
        sa.Column("context", sa.String(length=32), nullable=False),
        sa.Column("encoding", sa.String(length=36), nullable=False),
        sa.Column("signed_data", sa.Text(), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=True),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("received_at", _UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_signed_meter_data_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signed_meter_data")),
        sa.UniqueConstraint(
            "session_id", "digest", name=op.f("uq_signed_meter_data_session_id_digest")
        ),
    )


def downgrade() -> None:
    op.drop_table("signed_meter_data")
    with op.batch_alter_table("meter_samples", schema=None) as batch_op:
        batch_op.drop_index("ix_meter_samples_station_evse_at")

    op.drop_table("meter_samples")
    op.drop_table("cdrs")
    with op.batch_alter_table("tariff_assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_tariff_assignments_scope")

    op.drop_table("tariff_assignments")
    with op.batch_alter_table("station_commands", schema=None) as batch_op:
        batch_op.drop_index("ix_station_commands_station_status")

    op.drop_table("station_commands")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_sessions_station_state")
        batch_op.drop_index("ix_sessions_started_at")

    op.drop_table("sessions")
    op.drop_table("evses")
    op.drop_table("connectors")
    op.drop_table("tariffs")
    op.drop_table("stations")
    op.drop_table("processed_commands")
    op.drop_table("id_tokens")
