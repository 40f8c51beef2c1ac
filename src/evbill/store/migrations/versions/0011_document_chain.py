"""invoicing: issued documents are tamper-evident: a hash chain per series, daily roots, and
append-only triggers on documents and their rows

Revision ID: 0011
Revises: 0009_dedup_retention
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy of evbill.invoicing.chain_tables.append_only_ddl at this revision.
_CHILDREN = ("invoice_sessions", "invoice_lines", "invoice_vat", "invoice_chain",
             "invoice_daily_roots", "invoice_chain_start")
_DOCUMENT_COLUMNS = (
    "id", "number", "series", "seq", "doc_type", "source_key", "operator_id", "account_id",
    "currency", "issued_at", "issue_date", "period_start", "period_end", "due_date", "issuer",
    "customer", "total_net", "total_vat", "total_gross", "paid", "payment_means",
    "payment_note", "language", "corrects_id", "corrects_number", "corrects_issue_date",
    "reason", "proof", "details",
)
_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION invoice_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'issued documents are append-only: % on % refused', TG_OP, TG_TABLE_NAME;
END
$$ LANGUAGE plpgsql
"""


def _triggers(dialect: str) -> list[str]:
    if dialect == "postgresql":
        return [
            _PG_FUNCTION,
            "CREATE TRIGGER invoice_documents_no_delete BEFORE DELETE ON invoice_documents "
            "FOR EACH ROW EXECUTE FUNCTION invoice_refuse_change()",
            "CREATE TRIGGER invoice_documents_no_update BEFORE UPDATE ON invoice_documents "
            "FOR EACH ROW WHEN (OLD.pdf IS NOT NULL "
            "OR (to_jsonb(OLD) - 'pdf') IS DISTINCT FROM (to_jsonb(NEW) - 'pdf')) "
            "EXECUTE FUNCTION invoice_refuse_change()",
        ] + [
            f"CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} "
            "FOR EACH ROW EXECUTE FUNCTION invoice_refuse_change()"
            for t in _CHILDREN
        ]
    refuse = "SELECT RAISE(ABORT, 'issued documents are append-only: {op} on {table} refused')"
    return [
        "CREATE TRIGGER invoice_documents_no_delete BEFORE DELETE ON invoice_documents BEGIN "
        f"{refuse.format(op='DELETE', table='invoice_documents')}; END",
        f"CREATE TRIGGER invoice_documents_no_update BEFORE UPDATE OF "
        f"{', '.join(_DOCUMENT_COLUMNS)} ON invoice_documents BEGIN "
        f"{refuse.format(op='UPDATE', table='invoice_documents')}; END",
        "CREATE TRIGGER invoice_documents_pdf_once BEFORE UPDATE OF pdf ON invoice_documents "
        f"WHEN OLD.pdf IS NOT NULL BEGIN {refuse.format(op='UPDATE', table='invoice_documents')}"
        "; END",
    ] + [
        f"CREATE TRIGGER {t}_no_{op_.lower()} BEFORE {op_} ON {t} BEGIN "
        f"{refuse.format(op=op_, table=t)}; END"
        for t in _CHILDREN
        for op_ in ("UPDATE", "DELETE")
    ]


def _drop_triggers(dialect: str) -> list[str]:
    names = [("invoice_documents_no_delete", "invoice_documents"),
             ("invoice_documents_no_update", "invoice_documents")]
    if dialect == "postgresql":
        names += [(f"{t}_append_only", t) for t in _CHILDREN]
        return [f"DROP TRIGGER IF EXISTS {n} ON {t}" for n, t in names] + [
            "DROP FUNCTION IF EXISTS invoice_refuse_change()"]
    names += [("invoice_documents_pdf_once", "invoice_documents")]
    names += [(f"{t}_no_{op_}", t) for t in _CHILDREN for op_ in ("update", "delete")]
    return [f"DROP TRIGGER IF EXISTS {n}" for n, _ in names]


def upgrade() -> None:
    op.create_table(
        "invoice_chain",
        sa.Column("document_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("series", sa.String(length=200), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("prev_number", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["invoice_documents.id"],
                                name=op.f("fk_invoice_chain_document_id_invoice_documents")),
        sa.PrimaryKeyConstraint("document_id", name=op.f("pk_invoice_chain")),
        sa.UniqueConstraint("series", "seq", name=op.f("uq_invoice_chain_series_seq")),
    )
    op.create_index(op.f("ix_invoice_chain_day"), "invoice_chain", ["day"], unique=False)
    op.create_table(
        "invoice_daily_roots",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("document_count", sa.Integer(), nullable=False),
        sa.Column("root", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_invoice_daily_roots")),
    )
    op.create_table(
        "invoice_chain_start",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("first_document_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_chain_start")),
    )
    # Documents issued before this revision have no link; verify counts them apart.
    op.execute("INSERT INTO invoice_chain_start (id, first_document_id) "
               "SELECT 1, COALESCE(MAX(id), 0) + 1 FROM invoice_documents")
    for statement in _triggers(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    for statement in _drop_triggers(op.get_bind().dialect.name):
        op.execute(statement)
    op.drop_table("invoice_chain_start")
    op.drop_table("invoice_daily_roots")
    op.drop_index(op.f("ix_invoice_chain_day"), table_name="invoice_chain")
    op.drop_table("invoice_chain")
