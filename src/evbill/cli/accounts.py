"""`evbill accounts add | default | list`: how each account's station sessions pay.

A token added with `evbill tokens add UID --account A` pays as account A's mode says; accounts
without a mode follow the network default (`evbill accounts default --mode postpaid`).
Postpaid sessions are posted to the account and invoiced by `evbill bill --period YYYY-MM`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from evbill.cli.app import app, console, fail

if TYPE_CHECKING:
    from evbill.payments.account_modes import AccountModes

accounts_app = typer.Typer(
    name="accounts",
    help="Customer accounts: how their station sessions pay (postpaid or wallet), and the "
         "network default for accounts without a mode.",
    no_args_is_help=True,
)
app.add_typer(accounts_app, name="accounts")


class Mode(StrEnum):
    POSTPAID = "postpaid"
    WALLET = "wallet"


class DefaultMode(StrEnum):
    POSTPAID = "postpaid"
    WALLET = "wallet"
    NONE = "none"


DatabaseOption = Annotated[
    str | None,
    typer.Option("--database", help="SQLAlchemy URL (default: EVBILL_DATABASE_URL or SQLite)."),
]


@contextmanager
def _modes(url: str | None) -> Iterator[AccountModes]:
    from evbill.clock import utc_now
    from evbill.config import get_settings
    from evbill.payments.account_modes import AccountModes
    from evbill.payments.refusals import Refusal
    from evbill.store import Database, SchemaError

    try:
        db = Database.open(url or get_settings().resolved_database_url)
    except SchemaError as exc:
        raise fail(str(exc)) from None
    try:
        yield AccountModes(db, utc_now)
    except Refusal as exc:
        raise fail(exc.detail) from None
    finally:
        db.dispose()


@accounts_app.command("add")
def add(
    account: Annotated[str, typer.Argument(metavar="ACCOUNT", help="Account name, e.g. acme.")],
    mode: Annotated[Mode, typer.Option("--mode", help="postpaid (monthly invoice) or wallet "
                                       "(prepaid balance, station minimum to start).")],
    name: Annotated[str | None, typer.Option(
        "--name", help="Billing name (person or company) full invoices name.")] = None,
    address: Annotated[str | None, typer.Option("--address", help="Street and number.")] = None,
    postcode: Annotated[str | None, typer.Option("--postcode")] = None,
    city: Annotated[str | None, typer.Option("--city")] = None,
    country: Annotated[str | None, typer.Option(
        "--country", help="ISO 3166 alpha-2, e.g. DE.")] = None,
    vat_id: Annotated[str | None, typer.Option(
        "--vat-id", help="VAT id with its country prefix (businesses).")] = None,
    database: DatabaseOption = None,
) -> None:
    """Create an account (or change its mode): its tokens' station sessions pay this way.

    With --name, --address, --city and --country (optionally --postcode, --vat-id) it also sets
    the account's billing profile, as `evbill profile set` does: its invoices name it."""
    from evbill.accounts.profiles import CustomerProfile, ProfileError, ProfileStore
    from evbill.clock import utc_now

    fields = (name, address, postcode, city, country, vat_id)
    profile = None
    if any(value is not None for value in fields):
        missing = [option for option, value in (("--name", name), ("--address", address),
                                                 ("--city", city), ("--country", country))
                   if value is None]  # fmt: skip
        if missing:
            raise fail(f"a billing profile also needs {', '.join(missing)}")
        try:  # checked before anything is stored: a bad profile changes nothing
            profile = CustomerProfile.of(name=name or "", address=address or "",
                                         postcode=postcode or "", city=city or "",
                                         country=country or "", vat_id=vat_id)  # fmt: skip
        except ProfileError as exc:
            raise fail(str(exc)) from None
    with _modes(database) as modes:
        modes.set(account, mode.value)
        try:
            changed = profile is not None and ProfileStore(modes.db).set(
                account, profile, now=utc_now())
        except ProfileError as exc:
            raise fail(str(exc)) from None
    console.print(f"account {account}: sessions pay {mode.value}", highlight=False)
    if profile is not None:
        console.print(f"{account}: profile {'set' if changed else 'unchanged'}",
                      highlight=False)


@accounts_app.command("default")
def default(
    mode: Annotated[DefaultMode, typer.Option("--mode", help="postpaid | wallet | none")],
    database: DatabaseOption = None,
) -> None:
    """Set the network default for accounts without a mode (`none`: no default).

    Accepted cards whose account has no mode pay this way to their account; the app's driver
    accounts keep their own rules (wallet once topped up, else postpaid)."""
    with _modes(database) as modes:
        modes.set_default(None if mode is DefaultMode.NONE else mode.value)
    console.print(f"default payment mode: {mode.value}", highlight=False)


@accounts_app.command("list")
def list_(database: DatabaseOption = None) -> None:
    """Accounts with a payment mode (`*` is the network default)."""
    with _modes(database) as modes:
        rows = modes.listing()
    for account, mode in rows:
        typer.echo(f"{account}\t{mode}")
    if not rows:
        console.print("no account has a payment mode; no network default")
