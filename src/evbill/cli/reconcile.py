"""`evbill reconcile [--provider sandbox|stripe|terminal] [--since DATE]`: provider records
against the ledger; every difference in a table, exit 1 when there is any."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich import box
from rich.table import Table

from evbill.cli.app import app, console, fail

if TYPE_CHECKING:
    from evbill.payments.reconcile import Difference, RecordSource
    from evbill.store import Database

__all__ = ["difference_table", "reconcile_command"]


def _source(provider: str, db: Database) -> RecordSource:
    from evbill.payments.config import PaymentProviderSettings, build_provider
    from evbill.payments.reconcile import RecordSource, TerminalRecords
    from evbill.payments.retry import RetryingProvider

    if provider == "terminal":
        return TerminalRecords(db)
    settings = PaymentProviderSettings().model_copy(update={"payment_provider": provider})
    built = build_provider(settings)
    inner = built.inner if isinstance(built, RetryingProvider) else built
    if not isinstance(inner, RecordSource):
        raise fail(f"provider: {provider} cannot list its records")
    return inner


def difference_table(differences: list[Difference]) -> Table:
    table = Table(title="Reconciliation differences", box=box.SIMPLE_HEAVY)
    for column in ("problem", "kind", "reference", "provider", "ledger"):
        table.add_column(column, justify="right" if column in ("provider", "ledger") else "left")
    for d in differences:
        table.add_row(d.problem.value, d.kind, d.reference,
                      str(d.provider_amount) if d.provider_amount else "—",
                      str(d.ledger_amount) if d.ledger_amount else "—")
    return table


@app.command("reconcile")
def reconcile_command(
    provider: Annotated[Literal["sandbox", "stripe", "terminal"] | None, typer.Option(
        help="whose records (default EVBILL_PAYMENT_PROVIDER)")] = None,
    since: Annotated[str | None, typer.Option(help="only records from this date (YYYY-MM-DD)")]
    = None,
    database: Annotated[str | None, typer.Option(
        "--database", help="SQLAlchemy URL (default: EVBILL_DATABASE_URL or SQLite).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False,
) -> None:
    """Compare the provider's captures, refunds and payouts with the ledger."""
    from evbill.config import get_settings
    from evbill.payments.config import PaymentProviderSettings
    from evbill.payments.provider import PaymentError
    from evbill.payments.reconcile import reconcile
    from evbill.store import Database, SchemaError

    try:
        start = (datetime.combine(date.fromisoformat(since), time(), UTC)
                 if since else None)
    except ValueError:
        raise fail(f"since: {since!r} is not a date (YYYY-MM-DD)") from None
    try:
        db = Database.open(database or get_settings().resolved_database_url)
    except SchemaError as exc:
        raise fail(str(exc)) from None
    try:
        name = provider or PaymentProviderSettings().payment_provider
        differences = reconcile(db, _source(name, db), since=start)
    except PaymentError as exc:
        raise fail(str(exc)) from None
    finally:
        db.dispose()
    if as_json:
        typer.echo(json.dumps([{"problem": d.problem.value, "kind": d.kind,
                                "reference": d.reference,
                                "provider": str(d.provider_amount or ""),
                                "ledger": str(d.ledger_amount or "")} for d in differences]))
    elif differences:
        console.print(difference_table(differences))
    else:
        console.print("reconcile: the provider and the ledger agree", highlight=False)
    if differences:
        raise typer.Exit(1)
