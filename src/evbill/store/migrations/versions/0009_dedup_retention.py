"""sessions: index the deduplication keys by age, so keys past their retention are pruned

Revision ID: 0009_dedup_retention
Revises: 0008_login_failures
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009_dedup_retention"
down_revision: str | None = "0008_login_failures"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_processed_commands_created_at", "processed_commands", ["created_at"],
                    unique=False)  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_processed_commands_created_at", table_name="processed_commands")
