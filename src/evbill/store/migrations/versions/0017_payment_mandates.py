"""payments: SEPA direct debit mandates of postpaid accounts (`evbill accounts mandate`)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payment_mandates",
        sa.Column("reference", sa.String(length=35), nullable=False),
        sa.Column("account", sa.String(length=128), nullable=False),
        sa.Column("active_account", sa.String(length=128), nullable=True),
        sa.Column("debtor_iban", sa.String(length=34), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('active', 'revoked')",
                           name=op.f("ck_payment_mandates_status")),
        sa.PrimaryKeyConstraint("reference", name=op.f("pk_payment_mandates")),
        sa.UniqueConstraint("active_account", name=op.f("uq_payment_mandates_active_account")),
    )
    op.create_index(op.f("ix_payment_mandates_account"), "payment_mandates", ["account"],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_payment_mandates_account"), table_name="payment_mandates")
    op.drop_table("payment_mandates")
