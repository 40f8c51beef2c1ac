"""`evbill ledger verify | balances | close-day | proof`: the tamper-evident ledger from a shell."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from evbill.cli.app import app, console, fail

if TYPE_CHECKING:
    from evbill.ledger.balances import TrialBalance
    from evbill.ledger.service import LedgerService

ledger_app = typer.Typer(
    name="ledger",
    help="The double-entry ledger: verify the hash chain, trial balance, daily roots, proofs.",
    no_args_is_help=True,
)
app.add_typer(ledger_app, name="ledger")

DatabaseOption = Annotated[
    str | None,
    typer.Option("--database", help="SQLAlchemy URL (default: EVBILL_DATABASE_URL or SQLite)."),
]


@contextmanager
def _service(url: str | None) -> Iterator[LedgerService]:
    from evbill.config import get_settings
    from evbill.ledger.service import LedgerService
    from evbill.ledger.store import sql_unit_of_work
    from evbill.store import Database, SchemaError

    try:
        db = Database.open(url or get_settings().resolved_database_url)
    except SchemaError as exc:
        raise fail(str(exc)) from None
    try:
        yield LedgerService(sql_unit_of_work(db))
    finally:
        db.dispose()


@ledger_app.command("verify")
def verify(
    database: DatabaseOption = None,
    documents: Annotated[bool, typer.Option(
        "--documents/--no-documents",
        help="Also verify the issued documents' chain (as `evbill invoice verify`).")] = True,
) -> None:
    """Recompute the hash chain, balances and daily roots; exit 1 naming the first bad entry
    (and, with the documents, every changed, deleted or reordered document)."""
    documents_ok = True
    if documents:
        from evbill.cli.invoice import echo_documents_report

        documents_ok = echo_documents_report(database)
    with _service(database) as service:
        total = service.entry_count()
        columns = (TextColumn("verifying"), BarColumn(), MofNCompleteColumn(),
                   TimeRemainingColumn())
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task("verify", total=total)
            report = service.verify(lambda n: progress.advance(task, n))
    if report.problem is not None:
        raise fail(f"ledger verification FAILED at {report.problem}", code=1)
    typer.echo(f"ledger intact: {report.entries} entries, {report.transactions} transactions, "
               f"{report.days_checked} daily roots")
    if not documents_ok:
        raise typer.Exit(1)


def _fmt(amount: Decimal, currency: str) -> str:
    """Exact ledger amounts shown with the currency's minor unit (no rounding happens)."""
    from evbill.money import minor_unit

    return f"{amount.quantize(Decimal(1).scaleb(-minor_unit(currency))):f}"


def _balances_json(trial: TrialBalance) -> str:
    return json.dumps({
        "lines": [{"account": x.account, "currency": x.currency,
                   "debits": _fmt(x.debits, x.currency), "credits": _fmt(x.credits, x.currency),
                   "balance": _fmt(x.balance, x.currency)} for x in trial.lines],
        "totals": {cur: _fmt(total, cur) for cur, total in trial.totals},
    }, indent=2)


def _balances_table(trial: TrialBalance) -> Table:
    table = Table(title="trial balance", box=box.SIMPLE_HEAVY)
    table.add_column("account", overflow="fold")
    table.add_column("currency")
    for name in ("debits", "credits", "balance"):
        table.add_column(name, justify="right")
    for x in trial.lines:
        table.add_row(x.account, x.currency, _fmt(x.debits, x.currency),
                      _fmt(x.credits, x.currency), _fmt(x.balance, x.currency))
    for currency, total in trial.totals:
        table.add_row("[bold]total[/]", currency, "", "", f"[bold]{_fmt(total, currency)}[/]")
    return table


@ledger_app.command("balances")
def balances(
    database: DatabaseOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False,
) -> None:
    """Print the trial balance: every account per currency; each currency sums to zero."""
    with _service(database) as service:
        trial = service.trial_balance()
    if as_json:
        typer.echo(_balances_json(trial))
    else:
        console.print(_balances_table(trial))
    if not trial.balanced:
        raise fail("the trial balance does not sum to zero: run `evbill ledger verify`", code=1)


@ledger_app.command("close-day")
def close_day(
    day: Annotated[str, typer.Argument(help="UTC day, YYYY-MM-DD.")],
    database: DatabaseOption = None,
    force: Annotated[bool, typer.Option(help="Close a day that has not ended yet.")] = False,
) -> None:
    """Compute and store the day's Merkle root (closing a closed day prints the same root)."""
    try:
        when = date.fromisoformat(day)
    except ValueError:
        raise fail(f"DAY: {day!r} is not a YYYY-MM-DD date") from None
    if when >= datetime.now(UTC).date() and not force:
        raise fail(f"DAY: {day} has not ended (UTC); postings dated on it would be refused. "
                   "Use --force to close it anyway")
    from evbill.config import get_settings
    from evbill.invoicing.chain_store import close_documents_day
    from evbill.store import Database

    with _service(database) as service:
        root = service.close_day(when)
    db = Database.open(database or get_settings().resolved_database_url)
    try:
        documents = close_documents_day(db, when)
    finally:
        db.dispose()
    typer.echo(json.dumps({"day": root.day, "entry_count": root.entry_count, "root": root.root,
                           "documents": {"count": documents.document_count,
                                         "root": documents.root}}))


@ledger_app.command("proof")
def proof(
    transaction_id: Annotated[str, typer.Argument(help="Ledger transaction id.")],
    database: DatabaseOption = None,
) -> None:
    """Print the inclusion proofs of a transaction's entries (check with proof_check.py)."""
    from evbill.ledger.errors import LedgerError

    with _service(database) as service:
        try:
            proofs = service.proofs(transaction_id)
        except LedgerError as exc:
            raise fail(str(exc)) from None
    typer.echo(json.dumps({"transaction_id": transaction_id,
                           "proofs": [p.to_json() for p in proofs]}, indent=2))
