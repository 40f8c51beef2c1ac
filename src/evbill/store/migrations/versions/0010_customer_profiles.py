"""accounts: billing profiles (customer_profiles); invoicing: VAT category per line, VAT
category and exemption reason per subtotal, payment details and place of supply per document

Revision ID: 0010
Revises: 0009_dedup_retention
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009_dedup_retention"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customer_profiles",
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("postcode", sa.String(length=32), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("vat_id", sa.String(length=32), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_customer_profiles")),
    )
    op.add_column("invoice_lines", sa.Column("vat_category", sa.String(length=2),
                                             nullable=False, server_default="S"))
    op.execute("UPDATE invoice_lines SET vat_category = 'Z' WHERE CAST(vat_rate AS FLOAT) = 0")
    op.add_column("invoice_vat", sa.Column("category", sa.String(length=2), nullable=False,
                                           server_default="S"))
    op.execute("UPDATE invoice_vat SET category = 'Z' WHERE CAST(rate AS FLOAT) = 0")
    op.add_column("invoice_vat", sa.Column("exemption_code", sa.String(length=32),
                                           nullable=True))
    op.add_column("invoice_vat", sa.Column("exemption_reason", sa.Text(), nullable=True))
    op.add_column("invoice_documents", sa.Column("details", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("invoice_documents", "details")
    op.drop_column("invoice_vat", "exemption_reason")
    op.drop_column("invoice_vat", "exemption_code")
    op.drop_column("invoice_vat", "category")
    op.drop_column("invoice_lines", "vat_category")
    op.drop_table("customer_profiles")
