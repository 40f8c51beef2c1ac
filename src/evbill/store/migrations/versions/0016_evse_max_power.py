"""stations: each EVSE's maximum power in watts (set by `evbill stations import`)

Revision ID: 0016
Revises: 0009_dedup_retention
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("evses", sa.Column("max_power_w", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("evses") as batch:
        batch.drop_column("max_power_w")
