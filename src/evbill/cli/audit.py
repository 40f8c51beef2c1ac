"""`evbill audit [--period YYYY-MM]`: rated = charged = documented = booked, per session."""

from __future__ import annotations

from typing import Annotated

import typer

from evbill.cli.app import app, console, fail


@app.command("audit")
def audit(
    period: Annotated[str | None, typer.Option(
        "--period", metavar="YYYY-MM",
        help="Only sessions that ended in this UTC month (and what belongs to them).")] = None,
    database: Annotated[str | None, typer.Option(
        "--database", help="SQLAlchemy URL (default: EVBILL_DATABASE_URL or SQLite).")] = None,
) -> None:
    """Check that every session's rated total, the amount captured or charged, its document
    lines and its ledger postings agree per currency and VAT rate (refunds too); print every
    mismatch and exit 1, or a summary line with the counts and exit 0."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from evbill.audit.reader import AuditPeriod, audit_counts, run_audit
    from evbill.config import get_settings
    from evbill.store import Database, SchemaError

    try:
        chosen = AuditPeriod.parse(period) if period is not None else None
    except ValueError as exc:
        raise fail(str(exc)) from None
    try:
        db = Database.open(database or get_settings().resolved_database_url)
    except SchemaError as exc:
        raise fail(str(exc)) from None
    try:
        columns = (TextColumn("{task.description:>9}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, console=console, transient=True) as bar:
            tasks = {stage: bar.add_task(stage, total=total) for stage, total in audit_counts(db)}
            report = run_audit(db, chosen, progress=lambda stage, n: bar.advance(tasks[stage], n))
    finally:
        db.dispose()
    for mismatch in report.mismatches:
        typer.echo(f"mismatch: {mismatch}")
    typer.echo(report.summary())
    if not report.ok:
        raise typer.Exit(1)
