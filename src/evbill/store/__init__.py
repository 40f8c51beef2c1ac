"""Persistence: SQLAlchemy tables, repositories, the unit of work and Alembic migrations."""

from evbill.store.database import Database, make_engine
from evbill.store.migrate import (
    SchemaBehind,
    SchemaError,
    SchemaUnknown,
    check_schema,
    ensure_schema,
    upgrade,
)

__all__ = [
    "Database",
    "SchemaBehind",
    "SchemaError",
    "SchemaUnknown",
    "check_schema",
    "ensure_schema",
    "make_engine",
    "upgrade",
]
