"""`evbill profile set|show ACCOUNT`: the billing name, address and VAT id full invoices name.

Heavy modules (the store, SQLAlchemy) are imported inside the commands, so `evbill --help`
stays fast.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from evbill.cli.app import app, console, fail

profile_app = typer.Typer(
    name="profile",
    help="Billing profiles of driver and fleet accounts (name, address, VAT id on invoices).",
    no_args_is_help=True,
)
app.add_typer(profile_app, name="profile")

DatabaseOption = Annotated[
    str | None,
    typer.Option("--database", help="SQLAlchemy URL (default: EVBILL_DATABASE_URL or SQLite)."),
]


@profile_app.command("set")
def set_profile(
    account: Annotated[str, typer.Argument(help="The account id (as on its documents).")],
    name: Annotated[str, typer.Option("--name", help="Billing name (person or company).")],
    address: Annotated[str, typer.Option("--address", help="Street and number.")],
    city: Annotated[str, typer.Option("--city")],
    country: Annotated[str, typer.Option("--country", help="ISO 3166 alpha-2, e.g. DE.")],
    postcode: Annotated[str, typer.Option("--postcode")] = "",
    vat_id: Annotated[str | None, typer.Option(
        "--vat-id", help="VAT id with its country prefix (businesses; enables reverse "
                         "charge abroad).")] = None,
    database: DatabaseOption = None,
) -> None:
    """Set ACCOUNT's billing profile (setting the same values again changes nothing)."""
    from evbill.accounts.profiles import CustomerProfile, ProfileError, ProfileStore
    from evbill.clock import utc_now
    from evbill.config import get_settings
    from evbill.store import Database, SchemaError

    try:
        profile = CustomerProfile.of(name=name, address=address, postcode=postcode, city=city,
                                     country=country, vat_id=vat_id)  # fmt: skip
        db = Database.open(database or get_settings().resolved_database_url)
    except (ProfileError, SchemaError) as exc:
        raise fail(str(exc)) from None
    try:
        changed = ProfileStore(db).set(account, profile, now=utc_now())
    except ProfileError as exc:
        raise fail(str(exc)) from None
    finally:
        db.dispose()
    console.print(f"{account}: profile {'set' if changed else 'unchanged'}", highlight=False)


@profile_app.command("show")
def show_profile(
    account: Annotated[str, typer.Argument(help="The account id.")],
    database: DatabaseOption = None,
) -> None:
    """Print ACCOUNT's billing profile as JSON (exit 1 when it has none)."""
    from evbill.accounts.profiles import ProfileStore
    from evbill.config import get_settings
    from evbill.store import Database, SchemaError

    try:
        db = Database.open(database or get_settings().resolved_database_url)
    except SchemaError as exc:
        raise fail(str(exc)) from None
    try:
        profile = ProfileStore(db).get(account)
    finally:
        db.dispose()
    if profile is None:
        raise fail(f"{account}: no billing profile (documents are simplified invoices)", code=1)
    typer.echo(json.dumps({"account": account, **profile.to_json()}, ensure_ascii=False))
