"""payments: token bindings (how a token pays), session payments (hold, charge, revision) and
station-terminal settlements (OCPP 2.1 NotifySettlement)

Revision ID: 0007_session_payments
Revises: 0006_api_payments_moved
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_session_payments"
down_revision: str | None = "0006_api_payments_moved"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Column types frozen as they were at this revision (the DDL evbill.store.types rendered):
# a timezone-aware timestamp, and an exact decimal (NUMERIC; a decimal string on SQLite).
_UTC = sa.DateTime(timezone=True)
_DECIMAL = sa.Numeric(asdecimal=True).with_variant(sa.String(length=64), "sqlite")

_T = _UTC
_D = _DECIMAL


def upgrade() -> None:
    op.create_table(
        "payment_token_bindings",
        sa.Column("id_token", sa.String(length=255), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("account", sa.String(length=128), nullable=False),
        sa.Column("payment_method_token", sa.String(length=128), nullable=True),
        sa.Column("created_at", _T, nullable=False),
        sa.CheckConstraint("mode IN ('adhoc', 'wallet', 'postpaid')",
                           name=op.f("ck_payment_token_bindings_mode")),
        sa.PrimaryKeyConstraint("id_token", name=op.f("pk_payment_token_bindings")),
    )
    op.create_table(
        "session_payments",
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("id_token", sa.String(length=255), nullable=False),
        sa.Column("account", sa.String(length=128), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("charge_reference", sa.String(length=200), nullable=True),
        sa.Column("charged_net", _D, nullable=True),
        sa.Column("charged_gross", _D, nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("cdr_revision", sa.Integer(), nullable=True),
        sa.Column("adjustments", sa.Integer(), nullable=False),
        sa.Column("stop_requested", sa.Boolean(), nullable=False),
        sa.Column("created_at", _T, nullable=False),
        sa.Column("updated_at", _T, nullable=False),
        sa.PrimaryKeyConstraint("reference", name=op.f("pk_session_payments")),
        sa.UniqueConstraint("session_id", name=op.f("uq_session_payments_session_id")),
    )
    op.create_index("ix_session_payments_open", "session_payments",
                    ["station_id", "id_token", "status"], unique=False)
    op.create_table(
        "payment_station_settlements",
        sa.Column("psp_ref", sa.String(length=255), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("transaction_id", sa.String(length=64), nullable=True),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("amount", _D, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("receipt_id", sa.String(length=50), nullable=True),
        sa.Column("settled_at", _T, nullable=False),
        sa.Column("reconciled", sa.String(length=200), nullable=False),
        sa.Column("ledger_transaction", sa.String(length=36), nullable=True),
        sa.Column("created_at", _T, nullable=False),
        sa.PrimaryKeyConstraint("psp_ref", name=op.f("pk_payment_station_settlements")),
    )
    op.create_index(op.f("ix_payment_station_settlements_session_id"),
                    "payment_station_settlements", ["session_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_payment_station_settlements_session_id"),
                  table_name="payment_station_settlements")
    op.drop_table("payment_station_settlements")
    op.drop_index("ix_session_payments_open", table_name="session_payments")
    op.drop_table("session_payments")
    op.drop_table("payment_token_bindings")
