"""Issue 11 F14: the SQLite database (with its WAL files) and the secrets file are created
readable by their owner only, whatever the process umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from evbill.api.settings import ApiSettings, resolve_secrets
from evbill.config import sqlite_url_for
from evbill.store.migrate import ensure_schema


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0o022)  # the usual default: files world-readable unless said otherwise
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_database_and_secret_files_are_private(tmp_path: Path, open_umask: None) -> None:
    data_dir = tmp_path / "data"
    ensure_schema(sqlite_url_for(data_dir))
    resolve_secrets(ApiSettings(), data_dir)
    files = sorted(data_dir.iterdir())
    assert {f.name for f in files} >= {"evbill.sqlite3", "api-secrets.json"}
    for path in files:
        assert _mode(path) & 0o077 == 0, f"{path.name} is {oct(_mode(path))}"
    assert _mode(data_dir) == 0o700
