"""`evbill db upgrade` / `evbill db status`: schema migrations of the configured database;
`evbill db prune-dedup`: forget deduplication keys past their retention."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from evbill.cli.app import app, console, fail

db_app = typer.Typer(help="Database schema: migrate and inspect.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def _url(url: str | None) -> str:
    from evbill.config import get_settings

    return url or get_settings().resolved_database_url


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Option(help="target revision")] = "head",
    url: Annotated[str | None, typer.Option(help="database URL (default: settings)")] = None,
) -> None:
    """Apply the migrations up to REVISION (default: the newest)."""
    from sqlalchemy.exc import SQLAlchemyError

    from evbill.store.database import make_engine
    from evbill.store.migrate import upgrade

    engine = make_engine(_url(url))
    try:
        status = upgrade(engine, revision)
    except SQLAlchemyError as exc:
        raise fail(f"database: {exc.__class__.__name__}: {exc}".splitlines()[0]) from None
    finally:
        engine.dispose()
    where = engine.url.render_as_string(hide_password=True)
    _installation_secrets(_url(url))
    console.print(f"{where}: at {', '.join(status.current)}", highlight=False)
    typer.echo(", ".join(status.current))


def _installation_secrets(url: str) -> None:
    """Generate this installation's secrets now rather than on first start: the API's (signing
    keys, the sandbox webhook secret) and the station-password key in the database."""
    from evbill.api.settings import ApiSettings, resolve_secrets
    from evbill.config import get_settings
    from evbill.store.database import Database
    from evbill.store.installation import STATION_PASSWORD_KEY, installation_secret

    resolve_secrets(ApiSettings(), get_settings().data_dir)
    database = Database.open(url)
    try:
        installation_secret(database, STATION_PASSWORD_KEY)
    finally:
        database.dispose()


@db_app.command("status")
def db_status(
    url: Annotated[str | None, typer.Option(help="database URL (default: settings)")] = None,
) -> None:
    """Print the database's revision and the code's; exit 1 when the database is behind."""
    from sqlalchemy.exc import SQLAlchemyError

    from evbill.store.database import make_engine
    from evbill.store.migrate import schema_status

    engine = make_engine(_url(url))
    try:
        status = schema_status(engine)
    except SQLAlchemyError as exc:
        raise fail(f"database: {exc.__class__.__name__}: {exc}".splitlines()[0]) from None
    finally:
        engine.dispose()
    typer.echo(f"database: {', '.join(status.current) or '(none)'}")
    typer.echo(f"code:     {', '.join(status.head)}")
    if not status.up_to_date:
        console.print("the database is behind: run `evbill db upgrade`", highlight=False)
        raise typer.Exit(1)


@db_app.command("prune-dedup")
def db_prune_dedup(
    days: Annotated[int | None, typer.Option(
        "--older-than-days", min=1, help="days to keep (default EVBILL_DEDUP_RETENTION_DAYS)",
    )] = None,
    url: Annotated[str | None, typer.Option(help="database URL (default: settings)")] = None,
) -> None:
    """Forget the deduplication keys of station messages older than the retention (`evbill
    serve` does this every hour)."""
    from rich.progress import Progress, SpinnerColumn, TextColumn
    from sqlalchemy.exc import SQLAlchemyError

    from evbill.clock import utc_now
    from evbill.config import get_settings
    from evbill.sessions.retention import prune_dedup_keys
    from evbill.store.database import Database

    retention = timedelta(days=days or get_settings().dedup_retention_days)
    db = Database.open(_url(url))
    try:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"),
                      TextColumn("{task.completed:,} keys"), console=console,
                      transient=True) as progress:  # fmt: skip
            task = progress.add_task("pruning deduplication keys", total=None)
            gone = prune_dedup_keys(db, utc_now(), retention,
                                    on_batch=lambda n: progress.advance(task, n))
    except SQLAlchemyError as exc:
        raise fail(f"database: {exc.__class__.__name__}: {exc}".splitlines()[0]) from None
    finally:
        db.dispose()
    console.print(f"forgot {gone:,} deduplication keys older than {retention.days} days",
                  highlight=False)  # fmt: skip
    typer.echo(gone)
