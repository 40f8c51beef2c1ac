"""Migrations: upgrade from empty, models agree with migrations, and the "behind" refusal."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

import evbill
from evbill.store import (
    Database,
    SchemaBehind,
    SchemaUnknown,
    ensure_schema,
    make_engine,
    migrations,
)
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
    """Every module that declares a table registers its model on the shared `Base` (not only
    the `*.tables` modules: profiles, chain tables, security tables, installation secrets)."""
    root = Path(evbill.__path__[0])
    for module in pkgutil.walk_packages(evbill.__path__, "evbill."):
        path = root.joinpath(*module.name.split(".")[1:])
        source = path.with_suffix(".py")
        if not module.ispkg and source.is_file() and \
                "__tablename__" in source.read_text(encoding="utf-8"):
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


def _imported_modules(tree: ast.Module) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
        elif isinstance(node, ast.ImportFrom):  # relative: inside the migrations package
            names.append("evbill.store.migrations.versions")
    return names


def test_migrations_are_frozen_history_importing_no_live_module() -> None:
    """A migration spells its tables out: it imports no evbill module (models, column types)
    outside the migrations package, so changing a model never changes an old migration."""
    versions = Path(migrations.__file__).parent / "versions"
    scripts = sorted(versions.glob("[0-9]*.py"))
    assert len(scripts) >= 9
    offenders = {
        script.name: name
        for script in scripts
        for name in _imported_modules(ast.parse(script.read_text(encoding="utf-8")))
        if (name == "evbill" or name.startswith("evbill."))
        and not name.startswith("evbill.store.migrations")
    }
    assert offenders == {}


def test_running_the_migration_scripts_loads_no_evbill_module() -> None:
    """Loading every migration script in a fresh interpreter (by path, as alembic does) loads
    no evbill module at all: the scripts depend on sqlalchemy and alembic only."""
    folder = Path(migrations.__file__).parent
    code = (
        "import sys\n"
        "from alembic.script import ScriptDirectory\n"
        f"revisions = list(ScriptDirectory({str(folder)!r}).walk_revisions())\n"
        "print(len(revisions), sorted(m for m in sys.modules if m.startswith('evbill')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    count, loaded = out.strip().splitlines()[-1].split(" ", 1)
    assert int(count) >= 9
    assert ast.literal_eval(loaded) == []
