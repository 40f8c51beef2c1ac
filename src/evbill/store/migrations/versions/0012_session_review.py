"""sessions: held for review (reason, who released), 2.x seqNo tracking, the review audit trail

Revision ID: 0012
Revises: 0009_dedup_retention
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_T = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("hold_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("released_by", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("seq_track", sa.JSON(), nullable=True))
    op.create_table(
        "session_reviews",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("state_before", sa.String(length=16), nullable=False),
        sa.Column("state_after", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("at", _T, nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"],
                                name=op.f("fk_session_reviews_session_id_sessions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_reviews")),
    )
    op.create_index("ix_session_reviews_session", "session_reviews", ["session_id", "at"],
                    unique=False)


def downgrade() -> None:
    op.drop_index("ix_session_reviews_session", table_name="session_reviews")
    op.drop_table("session_reviews")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("seq_track")
        batch.drop_column("released_by")
        batch.drop_column("hold_reason")
