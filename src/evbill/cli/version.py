"""`evbill version`."""

from __future__ import annotations

import typer

from evbill import __version__
from evbill.cli.app import app


@app.command()
def version() -> None:
    """Print the evbill version."""
    typer.echo(__version__)
