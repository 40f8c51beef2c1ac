"""The `evbill` command line. Each command lives in its own module and registers on `app`.

A command module imports at its top only what registering needs (typer, rich, the enums its
options name); services, SQLAlchemy, settings, WeasyPrint, FastAPI are imported inside the
command functions, so `evbill --help` and `evbill version` stay fast
(tests/test_cli_startup.py checks which modules they load)."""

from __future__ import annotations

import sys

# Importing a command module registers its commands on `app`.
from evbill.cli import accounts as _accounts  # noqa: F401
from evbill.cli import accounts_profile as _accounts_profile  # noqa: F401
from evbill.cli import api as _api  # noqa: F401
from evbill.cli import audit as _audit  # noqa: F401
from evbill.cli import bill as _bill  # noqa: F401
from evbill.cli import db as _db  # noqa: F401
from evbill.cli import demo as _demo  # noqa: F401
from evbill.cli import invoice as _invoice  # noqa: F401
from evbill.cli import ledger as _ledger  # noqa: F401
from evbill.cli import ocmf as _ocmf  # noqa: F401
from evbill.cli import payments as _payments  # noqa: F401
from evbill.cli import rate as _rate  # noqa: F401
from evbill.cli import reconcile as _reconcile  # noqa: F401
from evbill.cli import remote as _remote  # noqa: F401
from evbill.cli import serve as _serve  # noqa: F401
from evbill.cli import sessions_review as _sessions_review  # noqa: F401
from evbill.cli import simulate as _simulate  # noqa: F401
from evbill.cli import stations as _stations  # noqa: F401
from evbill.cli import users as _users  # noqa: F401
from evbill.cli import version as _version
from evbill.cli.app import app


def main() -> None:
    if sys.argv[1:] == ["version"]:
        # The usual liveness probe answers before typer loads its parameter machinery
        # (pydantic), which alone doubles the time of any other command's start.
        _version.version()
        return
    app()


__all__ = ["app", "main"]
