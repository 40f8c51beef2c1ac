"""The `evbill` Typer application object that every command module registers on."""

from __future__ import annotations

import typer
from rich.console import Console

app = typer.Typer(
    name="evbill",
    help="evbill: billing and payments for EV charging.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain (click) help: typer's rich help imports rich.markdown and friends, which alone
    # takes longer than the rest of `evbill --help` (the target is well under 0.3 s).
    rich_markup_mode=None,
)

#: Human-facing output (progress, tables) goes to stderr so stdout stays machine-readable.
console = Console(stderr=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print a one-line reason on stderr and return the Exit to raise."""
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@app.callback()
def _root() -> None:
    """evbill: billing and payments for EV charging."""
