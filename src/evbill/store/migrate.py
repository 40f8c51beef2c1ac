"""Schema migrations run from the installed package: upgrade, status, and the "behind" check.

Alembic is configured in code (`script_location = evbill.store:migrations`), so `evbill db
upgrade` needs no alembic.ini. Processes refuse to start on a database that is behind.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from evbill.store.database import make_engine

__all__ = [
    "SchemaBehind",
    "SchemaError",
    "SchemaStatus",
    "SchemaUnknown",
    "alembic_config",
    "check_schema",
    "ensure_schema",
    "schema_status",
    "upgrade",
]

log = logging.getLogger(__name__)

#: Key for pg_advisory_xact_lock so that two processes never migrate at the same time.
_MIGRATION_LOCK_KEY = 0x65766269  # "evbi"


class SchemaError(RuntimeError):
    """The database schema does not match what this evbill expects."""


class SchemaBehind(SchemaError):
    """The database's migrations are behind the code's: run `evbill db upgrade`."""


class SchemaUnknown(SchemaError):
    """The database is at a revision this evbill does not know (a newer evbill migrated it)."""


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    current: tuple[str, ...]  # revisions stamped in the database (empty: never migrated)
    head: tuple[str, ...]  # revisions the code expects

    @property
    def up_to_date(self) -> bool:
        return set(self.current) == set(self.head)


def alembic_config(url: str | None = None) -> Config:
    """An Alembic `Config` pointing at the migrations inside the package."""
    cfg = Config()
    cfg.set_main_option("script_location", "evbill.store:migrations")
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def schema_status(engine: Engine) -> SchemaStatus:
    """Where the database is against where the code is."""
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_heads()
    head = ScriptDirectory.from_config(alembic_config()).get_heads()
    return SchemaStatus(current=tuple(sorted(current)), head=tuple(sorted(head)))


def check_schema(engine: Engine) -> SchemaStatus:
    """Raise `SchemaBehind`/`SchemaUnknown` unless the database is at the code's head."""
    status = schema_status(engine)
    if status.up_to_date:
        return status
    script = ScriptDirectory.from_config(alembic_config())
    known = {rev.revision for rev in script.walk_revisions()}
    unknown = [rev for rev in status.current if rev not in known]
    where = f"{engine.url.render_as_string(hide_password=True)}"
    if unknown:
        raise SchemaUnknown(
            f"database {where} is at revision {', '.join(unknown)}, which this evbill does not "
            f"know (expected {', '.join(status.head)}): upgrade evbill"
        )
    raise SchemaBehind(
        f"database {where} schema is behind: at {', '.join(status.current) or 'no revision'}, "
        f"expected {', '.join(status.head)}; run `evbill db upgrade`"
    )


def upgrade(engine: Engine, revision: str = "head") -> SchemaStatus:
    """Apply migrations up to `revision` in one transaction (serialised on PostgreSQL)."""
    cfg = alembic_config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    status = schema_status(engine)
    log.info("db.upgraded url=%s revision=%s", engine.url.render_as_string(), status.current)
    return status


def ensure_schema(url: str) -> SchemaStatus:
    """Bring the database at `url` to the code's head (used by serve, demo and tests)."""
    engine = make_engine(url)
    try:
        status = schema_status(engine)
        return status if status.up_to_date else upgrade(engine)
    finally:
        engine.dispose()
