"""api: sign-in attempts per limiter key, shared by every API process on the database

Revision ID: 0008_login_failures
Revises: 0007_session_payments
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_login_failures"
down_revision: str | None = "0007_session_payments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Column types frozen as they were at this revision (the DDL evbill.store.types rendered):
# a timezone-aware timestamp.
_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "api_login_failures",
        sa.Column("attempt_id", sa.String(length=32), nullable=False),
        sa.Column("key_digest", sa.String(length=64), nullable=False),
        sa.Column("failed_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("attempt_id", "key_digest", name=op.f("pk_api_login_failures")),
    )
    op.create_index("ix_api_login_failures_key", "api_login_failures",
                    ["key_digest", "failed_at"], unique=False)
    op.create_index(op.f("ix_api_login_failures_failed_at"), "api_login_failures",
                    ["failed_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_api_login_failures_failed_at"), table_name="api_login_failures")
    op.drop_index("ix_api_login_failures_key", table_name="api_login_failures")
    op.drop_table("api_login_failures")
