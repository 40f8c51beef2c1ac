"""api: payment methods and wallet move to the payments service (drop api_payment_methods and
api_wallet_entries); ad hoc payments keep only the link to the service's hold; index id tokens
by account (a driver's cards)

Revision ID: 0006_api_payments_moved
Revises: 0005_invoicing
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_api_payments_moved"
down_revision: str | None = "0005_invoicing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Column types frozen as they were at this revision (the DDL evbill.store.types rendered):
# a timezone-aware timestamp, and an exact decimal (NUMERIC; a decimal string on SQLite).
_UTC = sa.DateTime(timezone=True)
_DECIMAL = sa.Numeric(asdecimal=True).with_variant(sa.String(length=64), "sqlite")

_ADHOC_MONEY = ("provider", "authorization_id", "challenge_url", "amount", "currency",
                "decline_code", "capture_id", "captured", "refunded")  # fmt: skip


def upgrade() -> None:
    op.drop_index("ix_api_wallet_entries_user", table_name="api_wallet_entries")
    op.drop_table("api_wallet_entries")
    op.drop_index(op.f("ix_api_payment_methods_user_id"), table_name="api_payment_methods")
    op.drop_table("api_payment_methods")
    with op.batch_alter_table("api_adhoc_payments") as batch:
        for column in _ADHOC_MONEY:
            batch.drop_column(column)
    op.create_index("ix_id_tokens_account", "id_tokens", ["account"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_id_tokens_account", table_name="id_tokens")
    decimal = _DECIMAL
    with op.batch_alter_table("api_adhoc_payments") as batch:
        batch.add_column(sa.Column("provider", sa.String(32), nullable=False,
                                   server_default="sandbox"))
        batch.add_column(sa.Column("authorization_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("challenge_url", sa.Text(), nullable=True))
        batch.add_column(sa.Column("amount", decimal, nullable=False, server_default="0"))
        batch.add_column(sa.Column("currency", sa.String(3), nullable=False,
                                   server_default="EUR"))
        batch.add_column(sa.Column("decline_code", sa.String(32), nullable=True))
        batch.add_column(sa.Column("capture_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("captured", decimal, nullable=True))
        batch.add_column(sa.Column("refunded", decimal, nullable=True))
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
        sa.ForeignKeyConstraint(["user_id"], ["api_users.id"],
                                name=op.f("fk_api_payment_methods_user_id_api_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_payment_methods")),
    )
    op.create_index(op.f("ix_api_payment_methods_user_id"), "api_payment_methods", ["user_id"],
                    unique=False)
    op.create_table(
        "api_wallet_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("amount", _DECIMAL, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["api_users.id"],
                                name=op.f("fk_api_wallet_entries_user_id_api_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_wallet_entries")),
        sa.UniqueConstraint("reference", name=op.f("uq_api_wallet_entries_reference")),
    )
    op.create_index("ix_api_wallet_entries_user", "api_wallet_entries", ["user_id", "id"],
                    unique=False)
