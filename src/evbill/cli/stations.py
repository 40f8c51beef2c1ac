"""Operator commands: `evbill stations …`, `evbill tokens …`, `evbill tariffs add`,
`evbill sessions list|show`. Each parses, calls one service, prints."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from evbill.accounts.passwords import PasswordError
from evbill.accounts.stations import StationError, StationRegistry
from evbill.accounts.tokens import TOKEN_STATUSES, TokenError, TokenRegistry
from evbill.cli.app import app, console, fail
from evbill.clock import utc_now
from evbill.config import get_settings
from evbill.sessions.commands import IdTokenType
from evbill.sessions.service import SessionService
from evbill.sessions.tariff_book import TariffBook, TariffBookError
from evbill.store.database import Database
from evbill.store.migrate import SchemaError

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
    password: Annotated[str | None, typer.Option(help="basic-auth password (16-40 chars)")] = None,
    tz: Annotated[str | None, typer.Option(help="IANA time zone, e.g. Europe/Berlin")] = None,
    evses: Annotated[int, typer.Option(min=0, max=64)] = 1,
    address: Annotated[str | None, typer.Option()] = None,
    operator: Annotated[str | None, typer.Option()] = None,
    meter_key: Annotated[str | None, typer.Option(help="OCMF meter public key (hex DER)")] = None,
) -> None:
    """Register a station (its password is stored as a keyed HMAC-SHA256 hash, never in clear)."""
    with _database() as db:
        try:
            StationRegistry(db).add(
                station_id, time_zone=tz or get_settings().default_timezone, now=utc_now(),
                password=password, evses=evses, address=address, operator=operator,
                meter_public_key=meter_key,
            )  # fmt: skip
        except (StationError, PasswordError) as exc:
            raise fail(str(exc)) from None
    console.print(f"station {station_id} added with {evses} EVSE(s)", highlight=False)


@stations_app.command("list")
def stations_list() -> None:
    """Show the registered stations."""
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
    status: Annotated[str, typer.Option(help="/".join(TOKEN_STATUSES))] = "Accepted",
    account: Annotated[str | None, typer.Option()] = None,
    group_id: Annotated[str | None, typer.Option("--group")] = None,
    expires: Annotated[datetime | None, typer.Option(help="expiry, ISO 8601 (UTC)")] = None,
) -> None:
    """Register an id token."""
    if expires is not None and expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    with _database() as db:
        try:
            row = TokenRegistry(db).add(value, type_=type_, status=status, account=account,
                                        group_id=group_id, expires_at=expires, now=utc_now())
        except TokenError as exc:
            raise fail(str(exc)) from None
    console.print(f"{type_.value} token {row.value} added ({status})", highlight=False)


@tariffs_app.command("add")
def tariffs_add(
    file: Annotated[Path, typer.Argument(metavar="FILE.json", exists=True, dir_okay=False)],
    station: Annotated[str | None, typer.Option(help="station it applies to")] = None,
    evse: Annotated[int | None, typer.Option(help="EVSE of that station")] = None,
    default: Annotated[bool, typer.Option("--default", help="the network default")] = False,
    valid_from: Annotated[datetime | None, typer.Option(help="ISO 8601, UTC if naive")] = None,
) -> None:
    """Store an OCPI tariff (verbatim) and assign it to an EVSE, a station or the network."""
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


@sessions_app.command("list")
def sessions_list(
    station: Annotated[str | None, typer.Option(help="only this station")] = None,
    state: Annotated[list[str] | None, typer.Option(help="only these states")] = None,
    since: Annotated[datetime | None, typer.Option(help="started from (UTC)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
) -> None:
    """List sessions, newest first."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    with _database() as db:
        views = SessionService(db, get_settings()).list_sessions(
            station_id=station, states=tuple(state or ()), since=since, limit=limit)
    table = Table("session", "station", "evse", "tx", "state", "started (UTC)", "kWh", "total",
                  "flags")  # fmt: skip
    for v in views:
        total = "" if v.total_cost_incl_vat is None else f"{v.total_cost_incl_vat:.2f} {v.currency}"
        table.add_row(v.session_id, v.station_id, str(v.evse_id), v.transaction_id, v.state,
                      v.started_at.strftime("%Y-%m-%d %H:%M"), f"{v.energy_wh / 1000:.3f}",
                      total, ", ".join(v.flags))  # fmt: skip
    console.print(table)
    typer.echo(f"{len(views)} session(s)")
