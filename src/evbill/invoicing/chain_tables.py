"""Tables of the documents' hash chain and daily roots, and the append-only triggers that make
issued documents (and their sessions, lines, VAT rows, chain links and roots) unchangeable.

One chain per numbering series: a document's link is written in its issuing transaction while
the series row is locked, so links follow the gapless numbers and never fork. The only column
of an issued document that may still be written is `pdf`, once, from NULL (the rendered copy
waits for its ledger day's inclusion proof); it is not hashed, since it is rendered from the
hashed content.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy import UniqueConstraint as Unique
from sqlalchemy.orm import Mapped, mapped_column

from evbill.store.tables import Base

__all__ = [
    "CHILD_TABLES",
    "ChainStartRow",
    "DocumentLinkRow",
    "DocumentRootRow",
    "append_only_ddl",
    "drop_append_only_ddl",
]


class DocumentLinkRow(Base):
    """A document's place in its series' chain: `hash` commits to its content and to `prev_hash`."""

    __tablename__ = "invoice_chain"
    __table_args__ = (Unique("series", "seq"),)

    document_id: Mapped[int] = mapped_column(ForeignKey("invoice_documents.id"),
                                             primary_key=True, autoincrement=False)
    series: Mapped[str] = mapped_column(String(200))
    seq: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(64))
    day: Mapped[str] = mapped_column(String(10), index=True)  # issued_at's UTC day
    prev_number: Mapped[str] = mapped_column(String(64))  # "" for a series' first link
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class DocumentRootRow(Base):
    """The Merkle root over one UTC day's document hashes (in document id order)."""

    __tablename__ = "invoice_daily_roots"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    document_count: Mapped[int] = mapped_column(Integer)
    root: Mapped[str] = mapped_column(String(64))


class ChainStartRow(Base):
    """One row (id 1), written by the migration that began the chain: documents with a lower
    id were issued before and have no link. Without the row every document must have one."""

    __tablename__ = "invoice_chain_start"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    first_document_id: Mapped[int] = mapped_column(Integer)


#: Tables refusing every UPDATE and DELETE; `invoice_documents` also refuses both, except the
#: one-time write of `pdf`.
CHILD_TABLES: Final = ("invoice_sessions", "invoice_lines", "invoice_vat", "invoice_chain",
                       "invoice_daily_roots", "invoice_chain_start")  # fmt: skip
#: The columns of `invoice_documents` that SQLite's trigger watches (all but `pdf`).
#: PostgreSQL compares whole rows instead, so a column added later is covered there at once;
#: a migration that adds a column must recreate the SQLite trigger with it.
DOCUMENT_COLUMNS: Final = (
    "id", "number", "series", "seq", "doc_type", "source_key", "operator_id", "account_id",
    "currency", "issued_at", "issue_date", "period_start", "period_end", "due_date", "issuer",
    "customer", "total_net", "total_vat", "total_gross", "paid", "payment_means",
    "payment_note", "language", "corrects_id", "corrects_number", "corrects_issue_date",
    "reason", "proof", "details",
)  # fmt: skip

_PG_FUNCTION: Final = """
CREATE OR REPLACE FUNCTION invoice_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'issued documents are append-only: % on % refused', TG_OP, TG_TABLE_NAME;
END
$$ LANGUAGE plpgsql
"""


def append_only_ddl(dialect: str) -> list[str]:
    """Statements that make issued documents refuse UPDATE and DELETE on `dialect`."""
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
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION invoice_refuse_change()"
            for table in CHILD_TABLES
        ]
    refuse = "SELECT RAISE(ABORT, 'issued documents are append-only: {op} on {table} refused')"
    return [
        "CREATE TRIGGER invoice_documents_no_delete BEFORE DELETE ON invoice_documents BEGIN "
        f"{refuse.format(op='DELETE', table='invoice_documents')}; END",
        f"CREATE TRIGGER invoice_documents_no_update BEFORE UPDATE OF "
        f"{', '.join(DOCUMENT_COLUMNS)} ON invoice_documents BEGIN "
        f"{refuse.format(op='UPDATE', table='invoice_documents')}; END",
        "CREATE TRIGGER invoice_documents_pdf_once BEFORE UPDATE OF pdf ON invoice_documents "
        f"WHEN OLD.pdf IS NOT NULL BEGIN {refuse.format(op='UPDATE', table='invoice_documents')}"
        "; END",
    ] + [
        f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} BEGIN "
        f"{refuse.format(op=op, table=table)}; END"
        for table in CHILD_TABLES
        for op in ("UPDATE", "DELETE")
    ]


def _trigger_names(dialect: str) -> list[tuple[str, str]]:
    names = [("invoice_documents_no_delete", "invoice_documents"),
             ("invoice_documents_no_update", "invoice_documents")]  # fmt: skip
    if dialect == "postgresql":
        return names + [(f"{table}_append_only", table) for table in CHILD_TABLES]
    return names + [("invoice_documents_pdf_once", "invoice_documents")] + [
        (f"{table}_no_{op}", table) for table in CHILD_TABLES for op in ("update", "delete")]


def drop_append_only_ddl(dialect: str) -> list[str]:
    """The inverse of `append_only_ddl` (downgrade, and tests that play the attacker)."""
    if dialect == "postgresql":
        return [f"DROP TRIGGER IF EXISTS {name} ON {table}"
                for name, table in _trigger_names(dialect)] + [
            "DROP FUNCTION IF EXISTS invoice_refuse_change()"]  # fmt: skip
    return [f"DROP TRIGGER IF EXISTS {name}" for name, _ in _trigger_names(dialect)]
