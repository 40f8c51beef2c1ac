"""Someone with database access: the ledger's and the documents' append-only triggers lifted
for the length of a `with` block, so audit tests can tamper as an attacker would."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, text

from evbill.invoicing.chain_tables import CHILD_TABLES
from evbill.invoicing.chain_tables import append_only_ddl as documents_ddl
from evbill.invoicing.chain_tables import drop_append_only_ddl as drop_documents_ddl
from evbill.ledger.tables import APPEND_ONLY_TABLES
from evbill.ledger.tables import append_only_ddl as ledger_ddl
from evbill.ledger.tables import drop_append_only_ddl as drop_ledger_ddl
from evbill.store.database import Database

__all__ = ["attacker"]


@contextmanager
def attacker(db: Database) -> Iterator[Connection]:
    """Someone with database access: the ledger's and the documents' triggers lifted."""
    with db.engine.connect() as conn:
        conn.begin()
        if db.backend == "postgresql":
            for table in (*APPEND_ONLY_TABLES, "invoice_documents", *CHILD_TABLES):
                conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        else:
            for statement in drop_ledger_ddl("sqlite") + drop_documents_ddl("sqlite"):
                conn.execute(text(statement))
        yield conn
        if db.backend == "postgresql":
            for table in (*APPEND_ONLY_TABLES, "invoice_documents", *CHILD_TABLES):
                conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
        else:
            for statement in ledger_ddl("sqlite") + documents_ddl("sqlite"):
                conn.execute(text(statement))
        conn.commit()
