"""`evbill payments dunning | retry | write-off | sweep | trail | failed | requeue`: the
operator's payment desk."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.table import Table

from evbill.cli.app import app, console, fail

if TYPE_CHECKING:
    from evbill.payments.service import PaymentService

if TYPE_CHECKING:
    from evbill.payments.settlement_failures import SettlementFailures

payments_app = typer.Typer(
    name="payments",
    help="Payments: the dunning queue, retries and write-offs, the stale-hold sweep, trails, "
         "failed settlements.",
    no_args_is_help=True,
)
app.add_typer(payments_app, name="payments")

DatabaseOption = Annotated[
    str | None,
    typer.Option("--database", help="SQLAlchemy URL (default: EVBILL_DATABASE_URL or SQLite)."),
]
ActorOption = Annotated[str, typer.Option("--actor", help="Who is acting (kept in the trail).")]


@contextmanager
def _service(url: str | None) -> Iterator[PaymentService]:
    from evbill.config import get_settings
    from evbill.ledger.service import LedgerService
    from evbill.ledger.store import sql_unit_of_work
    from evbill.payments.config import build_provider
    from evbill.payments.provider import PaymentError
    from evbill.payments.service import PaymentService
    from evbill.store import Database, SchemaError

    try:
        db = Database.open(url or get_settings().resolved_database_url)
    except SchemaError as exc:
        raise fail(str(exc)) from None
    try:
        yield PaymentService(db, build_provider(), LedgerService(sql_unit_of_work(db)))
    except PaymentError as exc:
        raise fail(str(exc), code=1) from None
    finally:
        db.dispose()


@payments_app.command("dunning")
def dunning(
    database: DatabaseOption = None,
    status: Annotated[str, typer.Option(help="open | resolved | written_off")] = "open",
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False,
) -> None:
    """List captures that kept failing."""
    with _service(database) as service:
        items = service.dunning_queue(status=status)
    if as_json:
        typer.echo(json.dumps([{
            "id": i.id, "reference": i.reference, "amount": i.amount.to_json(),
            "attempts": i.attempts, "last_error": i.last_error, "status": i.status,
            "next_attempt_at": i.next_attempt_at.isoformat() if i.next_attempt_at else None,
        } for i in items], indent=2))
        return
    table = Table(title=f"dunning ({status})", box=box.SIMPLE_HEAVY)
    for column in ("id", "reference", "amount", "attempts", "next attempt", "last error"):
        table.add_column(column, overflow="fold")
    for i in items:
        table.add_row(i.id, i.reference, str(i.amount), str(i.attempts),
                      i.next_attempt_at.isoformat() if i.next_attempt_at else "", i.last_error)
    console.print(table)


@payments_app.command("retry")
def retry(
    dunning_id: Annotated[str, typer.Argument(help="Dunning item id.")],
    actor: ActorOption = "operator",
    database: DatabaseOption = None,
) -> None:
    """Try a failed capture again (same idempotency key: never a second charge)."""
    with _service(database) as service:
        typer.echo(service.retry_dunning(dunning_id, actor=actor))


@payments_app.command("write-off")
def write_off(
    dunning_id: Annotated[str, typer.Argument(help="Dunning item id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the trail).")],
    actor: ActorOption = "operator",
    database: DatabaseOption = None,
) -> None:
    """Give up on a capture and release the hold."""
    with _service(database) as service:
        service.write_off(dunning_id, actor=actor, reason=reason)
    typer.echo("written_off")


@payments_app.command("sweep")
def sweep(database: DatabaseOption = None) -> None:
    """Release holds never captured (unclaimed, expired or stale); settle what is due."""
    from evbill.payments.session_billing import SessionBilling

    with _service(database) as service:
        report = SessionBilling(service.ctx.db, service).sweep()
    typer.echo(json.dumps({"released": list(report.stale), "unclaimed": list(report.unclaimed),
                           "settled": list(report.settled)}))


@payments_app.command("trail")
def trail(
    reference: Annotated[str, typer.Argument(help="Session reference.")],
    database: DatabaseOption = None,
) -> None:
    """Print the payment audit trail of one session."""
    with _service(database) as service:
        rows = service.audit_trail(reference)
    typer.echo(json.dumps([{"at": at.isoformat(), "action": action, "actor": actor,
                            "detail": detail} for at, action, actor, detail in rows], indent=2))


@payments_app.command("failed")
def failed(
    database: DatabaseOption = None,
    include_resolved: Annotated[bool, typer.Option("--all", help="Resolved ones too.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False,
) -> None:
    """List sessions whose settlement failed: retrying with back-off, or dead (given up,
    waiting for the operator), with the last error. Other sessions settle regardless."""
    from evbill.payments.settlement_failures import DEAD, RESOLVED, RETRYING

    statuses = (RETRYING, DEAD, RESOLVED) if include_resolved else (RETRYING, DEAD)
    with _service(database) as service:
        rows = _failures(service).listing(statuses)
    if as_json:
        typer.echo(json.dumps([{
            "reference": r.reference, "kind": r.kind, "station_id": r.station_id,
            "status": r.status, "attempts": r.attempts, "last_error": r.last_error,
            "last_failed_at": r.last_failed_at.isoformat(),
            "next_attempt_at": r.next_attempt_at.isoformat() if r.next_attempt_at else None,
        } for r in rows], indent=2))
        return
    table = Table(title="failed settlements", box=box.SIMPLE_HEAVY)
    for column in ("reference", "kind", "station", "status", "attempts", "next try", "error"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(r.reference, r.kind, r.station_id or "", r.status, str(r.attempts),
                      r.next_attempt_at.isoformat() if r.next_attempt_at else "", r.last_error)
    console.print(table)
    if not rows:
        console.print("no failed settlements")


@payments_app.command("requeue")
def requeue(
    reference: Annotated[str, typer.Argument(help="The failed item's reference.")],
    database: DatabaseOption = None,
) -> None:
    """Settle a failed (or dead) session again at the next pass, once its cause is fixed."""
    with _service(database) as service:
        if not _failures(service).requeue(reference):
            raise fail(f"reference: no failed settlement {reference!r}", code=1)
    typer.echo("retrying")


def _failures(service: PaymentService) -> SettlementFailures:
    from evbill.payments.settlement_failures import SettlementFailures

    return SettlementFailures(service.ctx.db, service.ctx.clock)
