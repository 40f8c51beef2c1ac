"""ledger: journal transactions and entries, chain head, daily roots, append-only triggers

Revision ID: 0002_ledger
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_ledger"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of evbill.ledger.tables.append_only_ddl at this revision.
_TABLES = ("ledger_transactions", "ledger_entries", "ledger_daily_roots")
_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger table % is append-only: % refused', TG_TABLE_NAME, TG_OP;
END
$$ LANGUAGE plpgsql
"""


def _triggers(dialect: str) -> list[str]:
    if dialect == "postgresql":
        return [_PG_FUNCTION] + [
            f"CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
            for t in _TABLES
        ]
    return [
        f"CREATE TRIGGER {t}_no_{op_.lower()} BEFORE {op_} ON {t} BEGIN "
        f"SELECT RAISE(ABORT, 'ledger table {t} is append-only: {op_} refused'); END"
        for t in _TABLES
        for op_ in ("UPDATE", "DELETE")
    ]


def upgrade() -> None:
    op.create_table(
        "ledger_transactions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("reverses", sa.String(length=36), nullable=False),
        sa.Column("occurred_at", sa.String(length=27), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_transactions")),
        sa.UniqueConstraint("first_seq", name=op.f("uq_ledger_transactions_first_seq")),
        sa.UniqueConstraint("idempotency_key",
                            name=op.f("uq_ledger_transactions_idempotency_key")),
    )
    op.create_index(op.f("ix_ledger_transactions_occurred_at"), "ledger_transactions",
                    ["occurred_at"])
    op.create_table(
        "ledger_entries",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("transaction_id", sa.String(length=36), nullable=False),
        sa.Column("account", sa.String(length=200), nullable=False),
        sa.Column("amount", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["transaction_id"], ["ledger_transactions.id"],
                                name=op.f("fk_ledger_entries_transaction_id_ledger_transactions")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_ledger_entries")),
    )
    op.create_index(op.f("ix_ledger_entries_transaction_id"), "ledger_entries",
                    ["transaction_id"])
    op.create_index(op.f("ix_ledger_entries_account"), "ledger_entries", ["account"])
    op.create_table(
        "ledger_chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_ledger_chain_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_chain_head")),
    )
    op.create_table(
        "ledger_daily_roots",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("entry_count", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_ledger_daily_roots")),
    )
    for statement in _triggers(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for t in _TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {t}_append_only ON {t}")
        op.execute("DROP FUNCTION IF EXISTS ledger_refuse_change()")
    op.drop_table("ledger_daily_roots")
    op.drop_table("ledger_chain_head")
    op.drop_index(op.f("ix_ledger_entries_account"), table_name="ledger_entries")
    op.drop_index(op.f("ix_ledger_entries_transaction_id"), table_name="ledger_entries")
    op.drop_table("ledger_entries")
    op.drop_index(op.f("ix_ledger_transactions_occurred_at"), table_name="ledger_transactions")
    op.drop_table("ledger_transactions")
