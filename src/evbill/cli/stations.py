"""Operator commands: `evbill stations add|import|list`, `evbill tokens …`, `evbill tariffs
add`, `evbill sessions list`. Each parses, calls one service, prints. The services (and
SQLAlchemy) are imported when a command runs, so `evbill --help` stays fast."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from evbill.cli.app import app, console, fail
from evbill.sessions.commands import IdTokenType

if TYPE_CHECKING:
    from evbill.accounts.station_import import ImportReport
    from evbill.sessions.commands import SessionView
    from evbill.store.database import Database

stations_app = typer.Typer(help="Charging stations.", no_args_is_help=True)
tokens_app = typer.Typer(help="Id tokens (RFID cards, MAC addresses, eMAIDs).",
                         no_args_is_help=True)  # fmt: skip
tariffs_app = typer.Typer(help="Tariffs and where they apply.", no_args_is_help=True)
sessions_app = typer.Typer(help="Charging sessions.", no_args_is_help=True)
app.add_typer(stations_app, name="stations")
app.add_typer(tokens_app, name="tokens")
app.add_typer(tariffs_app, name="tariffs")
app.add_typer(sessions_app, name="sessions")


@contextmanager
def _database() -> Iterator[Database]:
    from evbill.config import get_settings
    from evbill.store.database import Database
    from evbill.store.migrate import SchemaError

    try:
        db = Database.open(get_settings().resolved_database_url)
    except SchemaError as exc:
        raise fail(str(exc)) from None
    try:
        yield db
    finally:
        db.dispose()


@stations_app.command("add")
def stations_add(
    station_id: Annotated[str, typer.Argument(metavar="ID", help="the station's OCPP identity")],
    password: Annotated[str | None, typer.Option(
        help="HTTP Basic password (16-40 characters); without it the station can connect "
             "only under security profile 0 (lab use)")] = None,
    tz: Annotated[str | None, typer.Option(help="IANA time zone, e.g. Europe/Berlin")] = None,
    evses: Annotated[int, typer.Option(min=0, max=64)] = 1,
    address: Annotated[str | None, typer.Option()] = None,
    operator: Annotated[str | None, typer.Option()] = None,
    meter_key: Annotated[str | None, typer.Option(help="OCMF meter public key (hex DER)")] = None,
    max_power_kw: Annotated[str | None, typer.Option(
        "--max-power-kw", help="each EVSE's maximum power in kW, e.g. 11 or 150 (sessions "
        "drawing more are held for review; without it EVBILL_EVSE_MAX_POWER_KW applies)")] = None,
) -> None:
    """Register a station (its password is stored as a keyed HMAC-SHA256 hash, never in
    clear). For many stations use `evbill stations import`."""
    from evbill.accounts.passwords import PasswordError
    from evbill.accounts.stations import StationError, StationRegistry, power_w
    from evbill.clock import utc_now
    from evbill.config import get_settings

    with _database() as db:
        try:
            StationRegistry(db).add(
                station_id, time_zone=tz or get_settings().default_timezone, now=utc_now(),
                password=password, evses=evses, address=address, operator=operator,
                meter_public_key=meter_key,
                max_power_w=None if max_power_kw is None else power_w(max_power_kw),
            )  # fmt: skip
        except (StationError, PasswordError) as exc:
            raise fail(str(exc)) from None
    console.print(f"station {station_id} added with {evses} EVSE(s)", highlight=False)


def _write_passwords(path: Path | None, generated: dict[str, str]) -> None:
    """Generated passwords, shown once: to PATH (created 0600, never overwritten) or stdout."""
    lines = ["id,password"] + [f"{sid},{password}" for sid, password in generated.items()]
    if path is None:
        typer.echo("\n".join(lines))
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise fail(f"--passwords-out: cannot create {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
    console.print(f"generated passwords of {len(generated)} station(s) written to {path}",
                  highlight=False)  # fmt: skip


def _import_summary(report: ImportReport) -> None:
    if report.errors:
        table = Table("line", "station", "field", "reason", title="rows refused",
                      title_justify="left")  # fmt: skip
        table.columns[3].overflow = "fold"
        for e in report.errors:
            table.add_row(str(e.line), e.station_id, e.field, e.reason)
        console.print(table)
        if not report.written:
            console.print("nothing was imported: fix these rows (or use --valid-only to import "
                          "the valid rows), then run the same command again", highlight=False)
    typer.echo(f"added: {len(report.added)}")
    typer.echo(f"unchanged: {len(report.unchanged)}")
    typer.echo(f"refused: {len(report.errors)}")


@stations_app.command("import")
def stations_import(
    file: Annotated[Path, typer.Argument(metavar="FILE.csv", exists=True, dir_okay=False,
                                         help="columns: id,password,operator,time_zone,evses,"
                                              "location (see docs/stations.md)")],
    valid_only: Annotated[bool, typer.Option(
        "--valid-only", help="register the valid rows even when others are refused (default: "
                             "all or nothing)")] = False,
    passwords_out: Annotated[Path | None, typer.Option(
        "--passwords-out", metavar="FILE",
        help="write the generated passwords there (a new file, mode 0600) instead of stdout")]
    = None,
    tz: Annotated[str | None, typer.Option(
        help="time zone of rows without one (default EVBILL_DEFAULT_TIMEZONE)")] = None,
) -> None:
    """Register the stations of a CSV file; running it again changes nothing.

    `evses` is e.g. `2x22;150`: EVSE 1 with two 22 kW connectors, EVSE 2 with one 150 kW.
    An empty password is generated (printed once, or written to --passwords-out); passwords
    are stored as salted PBKDF2-HMAC-SHA256 hashes. Exit 1 when a row is refused."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from evbill.accounts.station_import import StationImporter, read_stations
    from evbill.clock import utc_now
    from evbill.config import get_settings

    if passwords_out is not None and passwords_out.exists():
        raise fail(f"--passwords-out: {passwords_out} exists (it is never overwritten)")
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"{file}: cannot read ({exc.__class__.__name__}: {exc})") from None
    specs, errors = read_stations(text, tz or get_settings().default_timezone)
    columns = (TextColumn("importing stations"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    with _database() as db, Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("import", total=len(specs) + len({e.line for e in errors}))
        report = StationImporter(db).run(specs, errors, now=utc_now(), valid_only=valid_only,
                                         progress=lambda n: progress.advance(task, n))
    if report.generated:
        _write_passwords(passwords_out, report.generated)
    _import_summary(report)
    if report.errors:
        raise typer.Exit(1)


@stations_app.command("list")
def stations_list() -> None:
    """Show the registered stations."""
    from evbill.accounts.stations import StationRegistry

    with _database() as db:
        rows = StationRegistry(db).list()
    table = Table("id", "time zone", "connected", "last seen", "vendor / model", "protocol")
    for row in rows:
        seen = row.last_seen_at.isoformat(timespec="seconds") if row.last_seen_at else ""
        table.add_row(row.id, row.time_zone, "yes" if row.connected else "no", seen,
                      f"{row.vendor or ''} {row.model or ''}".strip(), row.protocol or "")
    console.print(table)


@tokens_app.command("add")
def tokens_add(
    value: Annotated[str, typer.Argument(metavar="VALUE")],
    type_: Annotated[IdTokenType, typer.Option("--type")] = IdTokenType.ISO14443,
    status: Annotated[str, typer.Option(help="Accepted, Blocked or Invalid")] = "Accepted",
    account: Annotated[str | None, typer.Option()] = None,
    group_id: Annotated[str | None, typer.Option("--group")] = None,
    expires: Annotated[datetime | None, typer.Option(help="expiry, ISO 8601 (UTC)")] = None,
) -> None:
    """Register an id token."""
    from evbill.accounts.tokens import TokenError, TokenRegistry
    from evbill.clock import utc_now

    if expires is not None and expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    with _database() as db:
        try:
            row = TokenRegistry(db).add(value, type_=type_, status=status, account=account,
                                        group_id=group_id, expires_at=expires, now=utc_now())
        except TokenError as exc:
            raise fail(str(exc)) from None
    console.print(f"{type_.value} token {row.value} added ({status})", highlight=False)


@tokens_app.command("list")
def tokens_list() -> None:
    """Show the tokens (key, type, status, account; `issued` while a card awaits its driver),
    one per line on stdout, tab-separated."""
    from sqlalchemy import select

    from evbill.store.tables import IdTokenRow

    with _database() as db, db.read_sessions() as s:
        rows = list(s.scalars(select(IdTokenRow).order_by(IdTokenRow.id)))
    for row in rows:
        account = row.account or ("issued" if row.claim_code_hash else "")
        typer.echo(f"{row.value}\t{row.type}\t{row.status}\t{account}")


@tokens_app.command("issue")
def tokens_issue(
    value: Annotated[str, typer.Argument(metavar="UID")],
    type_: Annotated[IdTokenType, typer.Option("--type")] = IdTokenType.ISO14443,
    status: Annotated[str, typer.Option(help="Accepted, Blocked or Invalid")] = "Accepted",
    group_id: Annotated[str | None, typer.Option("--group")] = None,
) -> None:
    """Register a card for a driver to link, and print its verification code (stdout).

    Print the code on the card or its letter: a driver links the card to their account with
    it (POST /api/v1/me/id-tokens). Only a keyed hash of it is stored; it is shown once."""
    from evbill.accounts.credentials import ClaimCodes
    from evbill.accounts.tokens import TokenError, TokenRegistry
    from evbill.api.settings import ApiSettings, resolve_secrets
    from evbill.clock import utc_now
    from evbill.config import get_settings

    api = resolve_secrets(ApiSettings(), get_settings().data_dir)
    assert api.secret_key is not None
    codes = ClaimCodes(api.secret_key.get_secret_value())
    with _database() as db:
        try:
            issued = TokenRegistry(db).issue(value, codes, type_=type_, status=status,
                                             group_id=group_id, now=utc_now())
        except TokenError as exc:
            raise fail(str(exc)) from None
    typer.echo(issued.code)
    console.print(f"{type_.value} card {issued.row.value} issued ({status}); verification "
                  "code on stdout", highlight=False)  # fmt: skip


@tariffs_app.command("add")
def tariffs_add(
    file: Annotated[Path, typer.Argument(metavar="FILE.json", exists=True, dir_okay=False)],
    station: Annotated[str | None, typer.Option(help="station it applies to")] = None,
    evse: Annotated[int | None, typer.Option(help="EVSE of that station")] = None,
    default: Annotated[bool, typer.Option("--default", help="the network default")] = False,
    valid_from: Annotated[datetime | None, typer.Option(help="ISO 8601, UTC if naive")] = None,
) -> None:
    """Store an OCPI tariff (verbatim) and assign it to an EVSE, a station or the network."""
    from evbill.clock import utc_now
    from evbill.sessions.tariff_book import TariffBook, TariffBookError

    if valid_from is not None and valid_from.tzinfo is None:
        valid_from = valid_from.replace(tzinfo=UTC)
    text = file.read_text(encoding="utf-8")
    with _database() as db:
        try:
            stored = TariffBook(db).add(text, now=utc_now(), station_id=station, evse_id=evse,
                                        default=default, valid_from=valid_from)  # fmt: skip
        except TariffBookError as exc:
            raise fail(str(exc)) from None
    scope = "default" if station is None else station + (f" EVSE {evse}" if evse else "")
    console.print(f"tariff {stored.tariff_id} ({stored.currency}, {stored.version}) → {scope}",
                  highlight=False)  # fmt: skip


#: `sessions list` columns, most important first; narrower terminals drop the tail.
_SESSION_COLUMNS = ("session", "station", "state", "start (UTC)", "kWh", "total", "flags",
                    "evse", "tx")  # fmt: skip
#: Columns kept per terminal width (the first width the terminal reaches applies).
_LAYOUTS = ((120, 9), (100, 8), (0, 7))


def _session_cells(v: SessionView, narrow: bool) -> dict[str, str]:
    total = "" if v.total_cost_incl_vat is None else f"{v.total_cost_incl_vat:.2f} {v.currency}"
    started = v.started_at.strftime("%m-%d %H:%M" if narrow else "%Y-%m-%d %H:%M")
    return {"session": v.session_id, "station": v.station_id, "evse": str(v.evse_id),
            "tx": v.transaction_id, "state": v.state, "start (UTC)": started,
            "kWh": f"{v.energy_wh / 1000:.3f}", "total": total, "flags": "\n".join(v.flags)}


def sessions_table(views: list[SessionView], width: int) -> Table:
    """The sessions as a table that fits `width` columns: narrow terminals drop the EVSE and
    transaction id columns and the start's year; long values (station ids, flags: one a
    line) wrap instead of being cut."""
    keep = next(count for minimum, count in _LAYOUTS if width >= minimum)
    columns = _SESSION_COLUMNS[:keep]
    narrow = width < _LAYOUTS[0][0]
    table = Table(pad_edge=False, collapse_padding=True, expand=False)
    for name in columns:
        table.add_column(name, justify="right" if name in ("kWh", "total", "evse") else "left",
                         no_wrap=name in ("session", "state", "kWh", "total", "evse"),
                         overflow="fold", min_width=22 if name == "flags" else None)  # fmt: skip
    for v in views:
        cells = _session_cells(v, narrow)
        table.add_row(*(cells[name] for name in columns))
    return table


@sessions_app.command("list")
def sessions_list(
    station: Annotated[str | None, typer.Option(help="only this station")] = None,
    state: Annotated[list[str] | None, typer.Option(help="only these states")] = None,
    since: Annotated[datetime | None, typer.Option(help="started from (UTC)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
) -> None:
    """List sessions, newest first (the columns fit the terminal's width)."""
    from evbill.config import get_settings
    from evbill.sessions.service import SessionService

    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    with _database() as db:
        views = SessionService(db, get_settings()).list_sessions(
            station_id=station, states=tuple(state or ()), since=since, limit=limit)
    console.print(sessions_table(views, console.width))
    typer.echo(f"{len(views)} session(s)")
