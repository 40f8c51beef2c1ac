"""Migrations: upgrade from empty, models agree with migrations, and the "behind" refusal."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

import evbill
from evbill.store import Database, SchemaBehind, SchemaUnknown, ensure_schema, make_engine
from evbill.store.migrate import schema_status, upgrade
from evbill.store.tables import Base


def test_upgrade_from_empty_creates_every_table(empty_database_url: str) -> None:
    status = ensure_schema(empty_database_url)
    assert status.up_to_date and status.current == status.head
    engine = make_engine(empty_database_url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert {t.name for t in Base.metadata.sorted_tables} <= tables
        assert "alembic_version" in tables
    finally:
        engine.dispose()


def _import_all_models() -> None:
    """Every `evbill.*.tables` module registers its models on the shared `Base`."""
    for module in pkgutil.walk_packages(evbill.__path__, "evbill."):
        if module.name.endswith(".tables"):
            importlib.import_module(module.name)


def test_models_match_migrations(empty_database_url: str) -> None:
    _import_all_models()
    ensure_schema(empty_database_url)
    engine = make_engine(empty_database_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
    finally:
        engine.dispose()


def test_open_refuses_a_database_that_was_never_migrated(empty_database_url: str) -> None:
    with pytest.raises(SchemaBehind, match="evbill db upgrade"):
        Database.open(empty_database_url)


def test_open_refuses_a_database_behind_and_accepts_it_after_upgrade(
    empty_database_url: str,
) -> None:
    engine = make_engine(empty_database_url)
    try:
        upgrade(engine, "head")
        with engine.begin() as conn:  # pretend the database was left at an older revision
            conn.execute(text("UPDATE alembic_version SET version_num = 'base0'"))
        with pytest.raises(SchemaUnknown, match="base0"):
            Database.open(empty_database_url)
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM alembic_version"))
        assert schema_status(engine).current == ()
        with pytest.raises(SchemaBehind, match="behind"):
            Database.open(empty_database_url)
    finally:
        engine.dispose()


def test_ensure_schema_is_idempotent(database_url: str) -> None:
    before = ensure_schema(database_url)
    after = ensure_schema(database_url)
    assert before == after and after.up_to_date
    Database.open(database_url).dispose()
