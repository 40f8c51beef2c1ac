"""payments: account payment modes (and the network default) and settlement failures (retries
with back-off, then the operator's dead-letter list)

Revision ID: 0014
Revises: 0009_dedup_retention
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_T = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "payment_account_modes",
        sa.Column("account", sa.String(length=128), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("updated_at", _T, nullable=False),
        sa.CheckConstraint("mode IN ('wallet', 'postpaid')",
                           name=op.f("ck_payment_account_modes_mode")),
        sa.PrimaryKeyConstraint("account", name=op.f("pk_payment_account_modes")),
    )
    op.create_table(
        "settlement_failures",
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("first_failed_at", _T, nullable=False),
        sa.Column("last_failed_at", _T, nullable=False),
        sa.Column("next_attempt_at", _T, nullable=True),
        sa.Column("resolved_at", _T, nullable=True),
        sa.PrimaryKeyConstraint("reference", name=op.f("pk_settlement_failures")),
    )
    op.create_index("ix_settlement_failures_due", "settlement_failures",
                    ["status", "next_attempt_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_settlement_failures_due", table_name="settlement_failures")
    op.drop_table("settlement_failures")
    op.drop_table("payment_account_modes")
