"""api: drivers and operator users, API keys, payment methods, wallet, ad hoc payments,
tariff owners, customer-group tariffs, and the driver-history index on sessions

Revision ID: 0003_api
Revises: 0002_ledger
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_api"
down_revision: str | None = "0002_ledger"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Column types frozen as they were at this revision (the DDL evbill.store.types rendered):
# a timezone-aware timestamp, and an exact decimal (NUMERIC; a decimal string on SQLite).
_UTC = sa.DateTime(timezone=True)
_DECIMAL = sa.Numeric(asdecimal=True).with_variant(sa.String(length=64), "sqlite")


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("operator_id", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("revoked_at", _UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
    )
    op.create_index(op.f("ix_api_keys_operator_id"), "api_keys", ["operator_id"], unique=False)
    op.create_table(
        "api_tariff_owners",
        sa.Column("tariff_id", sa.String(length=36), nullable=False),
        sa.Column("operator_id", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("tariff_id", name=op.f("pk_api_tariff_owners")),
    )
    op.create_index(
        op.f("ix_api_tariff_owners_operator_id"), "api_tariff_owners", ["operator_id"], unique=False
    )
    op.create_table(
        "api_users",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("operator_id", sa.String(length=128), nullable=True),
        sa.Column("email_lookup", sa.String(length=64), nullable=False),
        sa.Column("email_enc", sa.Text(), nullable=False),
        sa.Column("name_enc", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("token_account", sa.String(length=128), nullable=False),
        sa.Column("group_id", sa.String(length=64), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_users")),
        sa.UniqueConstraint("email_lookup", name=op.f("uq_api_users_email_lookup")),
        sa.UniqueConstraint("token_account", name=op.f("uq_api_users_token_account")),
    )
    op.create_index(op.f("ix_api_users_operator_id"), "api_users", ["operator_id"], unique=False)
    op.create_table(
        "api_adhoc_payments",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("access_hash", sa.String(length=64), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("authorization_id", sa.String(length=64), nullable=True),
        sa.Column("challenge_url", sa.Text(), nullable=True),
        sa.Column("amount", _DECIMAL, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("decline_code", sa.String(length=32), nullable=True),
        sa.Column("id_token", sa.String(length=64), nullable=False),
        sa.Column("command_id", sa.String(length=36), nullable=True),
        sa.Column("capture_id", sa.String(length=64), nullable=True),
        sa.Column("captured", _DECIMAL, nullable=True),
        sa.Column("refunded", _DECIMAL, nullable=True),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name=op.f("fk_api_adhoc_payments_station_id_stations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_adhoc_payments")),
        sa.UniqueConstraint("id_token", name=op.f("uq_api_adhoc_payments_id_token")),
    )
    op.create_index(
        "ix_api_adhoc_payments_station",
        "api_adhoc_payments",
        ["station_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "api_group_tariffs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("operator_id", sa.String(length=128), nullable=False),
        sa.Column("group_id", sa.String(length=64), nullable=False),
        sa.Column("tariff_pk", sa.Integer(), nullable=False),
        sa.Column("valid_from", _UTC, nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["tariff_pk"], ["tariffs.pk"], name=op.f("fk_api_group_tariffs_tariff_pk_tariffs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_group_tariffs")),
    )
    op.create_index(
        "ix_api_group_tariffs_scope",
        "api_group_tariffs",
        ["operator_id", "group_id", "valid_from"],
        unique=False,
    )
    op.create_table(
        "api_payment_methods",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("token", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("brand", sa.String(length=32), nullable=False),
        sa.Column("last4", sa.String(length=4), nullable=False),
        sa.Column("exp_month", sa.Integer(), nullable=False),
        sa.Column("exp_year", sa.Integer(), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("removed_at", _UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["api_users.id"],
            name=op.f("fk_api_payment_methods_user_id_api_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_payment_methods")),
    )
    op.create_index(
        op.f("ix_api_payment_methods_user_id"), "api_payment_methods", ["user_id"], unique=False
    )
    op.create_table(
        "api_wallet_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("amount", _DECIMAL, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["api_users.id"],
            name=op.f("fk_api_wallet_entries_user_id_api_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_wallet_entries")),
        sa.UniqueConstraint("reference", name=op.f("uq_api_wallet_entries_reference")),
    )
    op.create_index(
        "ix_api_wallet_entries_user", "api_wallet_entries", ["user_id", "id"], unique=False
    )
    op.create_index(
        "ix_sessions_id_token_started", "sessions", ["id_token", "started_at", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_sessions_id_token_started", table_name="sessions")
    op.drop_index("ix_api_wallet_entries_user", table_name="api_wallet_entries")
    op.drop_table("api_wallet_entries")
    op.drop_index(op.f("ix_api_payment_methods_user_id"), table_name="api_payment_methods")
    op.drop_table("api_payment_methods")
    op.drop_index("ix_api_group_tariffs_scope", table_name="api_group_tariffs")
    op.drop_table("api_group_tariffs")
    op.drop_index("ix_api_adhoc_payments_station", table_name="api_adhoc_payments")
    op.drop_table("api_adhoc_payments")
    op.drop_index(op.f("ix_api_users_operator_id"), table_name="api_users")
    op.drop_table("api_users")
    op.drop_index(op.f("ix_api_tariff_owners_operator_id"), table_name="api_tariff_owners")
    op.drop_table("api_tariff_owners")
    op.drop_index(op.f("ix_api_keys_operator_id"), table_name="api_keys")
    op.drop_table("api_keys")
