"""invoicing: documents, their sessions, lines and VAT, numbering series, billing customers
and monthly billing runs

Revision ID: 0005_invoicing
Revises: 0004_payments
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_invoicing"
down_revision: str | None = "0004_payments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Column types frozen as they were at this revision (the DDL evbill.store.types rendered):
# a timezone-aware timestamp, and an exact decimal (NUMERIC; a decimal string on SQLite).
_UTC = sa.DateTime(timezone=True)
_DECIMAL = sa.Numeric(asdecimal=True).with_variant(sa.String(length=64), "sqlite")


def upgrade() -> None:
    op.create_table(
        "billing_customers",
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("street", sa.String(length=200), nullable=False),
        sa.Column("postcode", sa.String(length=32), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("vat_id", sa.String(length=32), nullable=True),
        sa.Column("email", sa.String(length=200), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_billing_customers")),
    )
    op.create_table(
        "billing_runs",
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("finished_at", _UTC, nullable=True),
        sa.PrimaryKeyConstraint("period", name=op.f("pk_billing_runs")),
    )
    op.create_table(
        "invoice_series",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("operator_id", sa.String(length=80), nullable=False),
        sa.Column("doc_type", sa.String(length=16), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_invoice_series")),
    )
    op.create_table(
        "billing_run_items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("document_number", sa.String(length=64), nullable=True),
        sa.Column("worker", sa.String(length=128), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("finished_at", _UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["period"],
            ["billing_runs.period"],
            name=op.f("fk_billing_run_items_period_billing_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_run_items")),
        sa.UniqueConstraint(
            "period",
            "account_id",
            "currency",
            name=op.f("uq_billing_run_items_period_account_id_currency"),
        ),
    )
    op.create_index(
        "ix_billing_run_items_claim", "billing_run_items", ["period", "status"], unique=False
    )
    op.create_table(
        "invoice_documents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("series", sa.String(length=200), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("doc_type", sa.String(length=16), nullable=False),
        sa.Column("source_key", sa.String(length=255), nullable=False),
        sa.Column("operator_id", sa.String(length=80), nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("issued_at", _UTC, nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("issuer", sa.JSON(), nullable=False),
        sa.Column("customer", sa.JSON(), nullable=False),
        sa.Column("total_net", _DECIMAL, nullable=False),
        sa.Column("total_vat", _DECIMAL, nullable=False),
        sa.Column("total_gross", _DECIMAL, nullable=False),
        sa.Column("paid", sa.Boolean(), nullable=False),
        sa.Column("payment_means", sa.String(length=8), nullable=False),
        sa.Column("payment_note", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("corrects_id", sa.Integer(), nullable=True),
        sa.Column("corrects_number", sa.String(length=64), nullable=True),
        sa.Column("corrects_issue_date", sa.Date(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("proof", sa.JSON(), nullable=True),
        sa.Column("pdf", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["corrects_id"],
            ["invoice_documents.id"],
            name=op.f("fk_invoice_documents_corrects_id_invoice_documents"),
        ),
        sa.ForeignKeyConstraint(
            ["series"],
            ["invoice_series.name"],
            name=op.f("fk_invoice_documents_series_invoice_series"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_documents")),
        sa.UniqueConstraint(
            "operator_id", "number", name=op.f("uq_invoice_documents_operator_id_number")
        ),
        sa.UniqueConstraint("source_key", name=op.f("uq_invoice_documents_source_key")),
    )
    op.create_index(
        "ix_invoice_documents_account",
        "invoice_documents",
        ["account_id", "currency", "doc_type"],
        unique=False,
    )
    op.create_index(
        op.f("ix_invoice_documents_number"), "invoice_documents", ["number"], unique=False
    )
    op.create_table(
        "invoice_lines",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("session_position", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("quantity", _DECIMAL, nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("unit_price", _DECIMAL, nullable=False),
        sa.Column("vat_rate", _DECIMAL, nullable=False),
        sa.Column("net", _DECIMAL, nullable=False),
        sa.Column("vat", _DECIMAL, nullable=False),
        sa.Column("gross", _DECIMAL, nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["invoice_documents.id"],
            name=op.f("fk_invoice_lines_document_id_invoice_documents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_lines")),
        sa.UniqueConstraint(
            "document_id",
            "session_position",
            "position",
            name=op.f("uq_invoice_lines_document_id_session_position_position"),
        ),
    )
    op.create_index(
        op.f("ix_invoice_lines_document_id"), "invoice_lines", ["document_id"], unique=False
    )
    op.create_table(
        "invoice_sessions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("cdr_id", sa.String(length=64), nullable=True),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("evse_id", sa.String(length=64), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("started_at", _UTC, nullable=False),
        sa.Column("ended_at", _UTC, nullable=False),
        sa.Column("charging_hours", _DECIMAL, nullable=False),
        sa.Column("parking_hours", _DECIMAL, nullable=False),
        sa.Column("energy_kwh", _DECIMAL, nullable=False),
        sa.Column("signed_meter", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["invoice_documents.id"],
            name=op.f("fk_invoice_sessions_document_id_invoice_documents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_sessions")),
        sa.UniqueConstraint(
            "document_id", "position", name=op.f("uq_invoice_sessions_document_id_position")
        ),
    )
    op.create_index(
        op.f("ix_invoice_sessions_document_id"), "invoice_sessions", ["document_id"], unique=False
    )
    op.create_index(
        op.f("ix_invoice_sessions_reference"), "invoice_sessions", ["reference"], unique=False
    )
    op.create_table(
        "invoice_vat",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("rate", _DECIMAL, nullable=False),
        sa.Column("taxable", _DECIMAL, nullable=False),
        sa.Column("vat", _DECIMAL, nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["invoice_documents.id"],
            name=op.f("fk_invoice_vat_document_id_invoice_documents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_vat")),
        sa.UniqueConstraint("document_id", "rate", name=op.f("uq_invoice_vat_document_id_rate")),
    )


def downgrade() -> None:
    op.drop_table("invoice_vat")
    op.drop_index(op.f("ix_invoice_sessions_reference"), table_name="invoice_sessions")
    op.drop_index(op.f("ix_invoice_sessions_document_id"), table_name="invoice_sessions")
    op.drop_table("invoice_sessions")
    op.drop_index(op.f("ix_invoice_lines_document_id"), table_name="invoice_lines")
    op.drop_table("invoice_lines")
    op.drop_index(op.f("ix_invoice_documents_number"), table_name="invoice_documents")
    op.drop_index("ix_invoice_documents_account", table_name="invoice_documents")
    op.drop_table("invoice_documents")
    op.drop_index("ix_billing_run_items_claim", table_name="billing_run_items")
    op.drop_table("billing_run_items")
    op.drop_table("invoice_series")
    op.drop_table("billing_runs")
    op.drop_table("billing_customers")
