"""`evbill --help` and `evbill version` load no heavy module: every command imports what it
needs when it runs (a behaviour test on sys.modules, not a timing test; bench/cli_startup.py
gives the timings)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

#: Modules a command may need but the command line must not load to list its commands.
#: (pydantic itself is not listed: typer >= 0.2x converts option values with it.)
HEAVY = (
    "weasyprint", "fastapi", "starlette", "uvicorn", "stripe", "sqlalchemy", "alembic",
    "pydantic_settings", "cryptography", "websockets", "lxml",
    "evbill.invoicing.service", "evbill.config", "evbill.store", "evbill.api",
    "evbill.payments", "evbill.ledger", "evbill.rating", "evbill.tariffs", "evbill.ocpp",
)

_LOADED = (
    "import json, sys\n"
    "{body}\n"
    "print(json.dumps(sorted(sys.modules)))\n"
)


def _loaded_after(body: str) -> set[str]:
    env = {**os.environ, "COLUMNS": "100"}
    out = subprocess.run([sys.executable, "-c", _LOADED.format(body=body)], env=env,
                         capture_output=True, text=True, check=True, timeout=60).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def _heavy(loaded: set[str]) -> list[str]:
    return sorted(m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_importing_the_cli_loads_no_heavy_module() -> None:
    loaded = _loaded_after("import evbill.cli")
    assert "evbill.cli.stations" in loaded and "typer" in loaded  # the commands did register
    assert _heavy(loaded) == []


@pytest.mark.parametrize("argv", [["--help"], ["version"], ["stations", "--help"],
                                  ["stations", "import", "--help"], ["invoice", "--help"]])
def test_help_and_version_load_no_heavy_module(argv: list[str]) -> None:
    body = (
        "from evbill.cli import main\n"
        f"sys.argv = ['evbill', *{argv!r}]\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert exc.code in (0, None), exc.code\n"
    )
    assert _heavy(_loaded_after(body)) == []


def test_the_help_lists_every_command() -> None:
    out = subprocess.run([sys.executable, "-m", "evbill", "--help"], capture_output=True,
                         text=True, check=True, timeout=60, env={**os.environ, "COLUMNS": "120"})
    for command in ("api", "bill", "db", "demo", "invoice", "ledger", "ocmf", "payments", "rate",
                    "reconcile", "remote-start", "serve", "simulate", "stations", "tokens",
                    "tariffs", "sessions", "version"):  # fmt: skip
        assert f" {command} " in out.stdout, command


def test_a_command_still_loads_what_it_needs() -> None:
    """The lazy imports are real: running a command pulls its service in."""
    body = (
        "from evbill.cli import main\n"
        "sys.argv = ['evbill', 'rate', '/nonexistent.json', '--tariff', '/nonexistent.json']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
    )
    assert "evbill.tariffs" in _loaded_after(body)
