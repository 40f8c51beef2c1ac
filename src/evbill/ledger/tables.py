"""Ledger tables on the shared declarative `Base`, and their append-only triggers.

Every hashed field is stored as its canonical text (amount, timestamp), so verification hashes
exactly the stored bytes and no column type can round or re-zone a value.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from evbill.store.tables import Base

__all__ = [
    "APPEND_ONLY_TABLES",
    "ChainHeadRow",
    "DailyRootRow",
    "EntryRow",
    "TransactionRow",
    "append_only_ddl",
    "drop_append_only_ddl",
]


class TransactionRow(Base):
    __tablename__ = "ledger_transactions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    reference: Mapped[str] = mapped_column(String(200))
    reverses: Mapped[str] = mapped_column(String(36))  # "" when none (hashed as such)
    occurred_at: Mapped[str] = mapped_column(String(27), index=True)  # canonical UTC text
    #: Sequence number of the first entry: verify streams headers in chain order by it.
    first_seq: Mapped[int] = mapped_column(BigInteger, unique=True)


class EntryRow(Base):
    __tablename__ = "ledger_entries"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    transaction_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("ledger_transactions.id"), index=True
    )
    account: Mapped[str] = mapped_column(String(200), index=True)
    amount: Mapped[str] = mapped_column(String(64))  # canonical signed decimal text
    currency: Mapped[str] = mapped_column(String(3))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class ChainHeadRow(Base):
    """One row (id 1): the last entry. Writers lock it, so the chain cannot fork."""

    __tablename__ = "ledger_chain_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))


class DailyRootRow(Base):
    __tablename__ = "ledger_daily_roots"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD, UTC
    entry_count: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[str] = mapped_column(String(64))


#: Tables whose rows may never be updated or deleted once written.
APPEND_ONLY_TABLES: Final = ("ledger_transactions", "ledger_entries", "ledger_daily_roots")

_PG_FUNCTION: Final = """
CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger table % is append-only: % refused', TG_TABLE_NAME, TG_OP;
END
$$ LANGUAGE plpgsql
"""


def append_only_ddl(dialect: str) -> list[str]:
    """Statements that make the ledger tables refuse UPDATE and DELETE on `dialect`."""
    if dialect == "postgresql":
        return [_PG_FUNCTION] + [
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
            for table in APPEND_ONLY_TABLES
        ]
    return [
        f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} BEGIN "
        f"SELECT RAISE(ABORT, 'ledger table {table} is append-only: {op} refused'); END"
        for table in APPEND_ONLY_TABLES
        for op in ("UPDATE", "DELETE")
    ]


def drop_append_only_ddl(dialect: str) -> list[str]:
    """The inverse of `append_only_ddl` (downgrade, and tests that simulate tampering)."""
    if dialect == "postgresql":
        return [
            f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}"
            for table in APPEND_ONLY_TABLES
        ] + ["DROP FUNCTION IF EXISTS ledger_refuse_change()"]
    return [
        f"DROP TRIGGER IF EXISTS {table}_no_{op.lower()}"
        for table in APPEND_ONLY_TABLES
        for op in ("UPDATE", "DELETE")
    ]
