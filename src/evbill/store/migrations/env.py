"""Alembic environment: runs on the connection `evbill.store.migrate` hands in, or on a URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

# The live models are the target `alembic check` compares a migrated database with; every
# package's tables register on the one `Base`. (The migrations themselves import none of them.)
import evbill.accounts.profiles
import evbill.accounts.tables
import evbill.api.security_tables
import evbill.api.tables
import evbill.invoicing.chain_tables
import evbill.invoicing.tables
import evbill.ledger.tables
import evbill.payments.tables
import evbill.store.installation  # noqa: F401
from evbill.store.database import make_engine
from evbill.store.tables import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    if context.is_offline_mode():
        context.configure(
            url=config.get_main_option("sqlalchemy.url"),
            target_metadata=target_metadata,
            literal_binds=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


run()
