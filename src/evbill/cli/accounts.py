"""`evbill accounts add | default | list | mandate`: how each account's station sessions pay.

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


@accounts_app.command("mandate")
def mandate(
    account: Annotated[str, typer.Argument(metavar="ACCOUNT", help="Account name, e.g. acme.")],
    reference: Annotated[str | None, typer.Option(
        "--reference", help="Mandate reference (up to 35 of A-Z a-z 0-9 / - ? : ( ) . , ' +).")
    ] = None,
    iban: Annotated[str | None, typer.Option(
        "--iban", help="The debtor's IBAN (checked; shown masked, last four only).")] = None,
    signed: Annotated[str | None, typer.Option(
        "--signed", metavar="YYYY-MM-DD", help="Date the customer signed the mandate.")] = None,
    revoke: Annotated[bool, typer.Option(
        "--revoke", help="Revoke the account's active mandate (its next invoices ask for a "
                         "credit transfer).")] = False,
    database: DatabaseOption = None,
) -> None:
    """Store, revoke or show an account's SEPA direct debit mandate.

    With an active mandate the account's monthly invoices are collected by SEPA direct debit
    (payment means 59: mandate reference, the issuer's creditor id EVBILL_INVOICE_SEPA_CREDITOR_ID,
    the debtor's IBAN); without one they ask for a credit transfer (58). A new reference for the
    account replaces its mandate; the same one again changes nothing. Without options: show."""
    from datetime import date

    from evbill.payments.mandates import Mandates

    storing = (reference, iban, signed)
    if revoke and (iban is not None or signed is not None):
        raise fail("--revoke takes no --iban or --signed (only --reference, to name the mandate)")
    if not revoke and any(v is not None for v in storing) and None in storing:
        raise fail("a mandate needs --reference, --iban and --signed")
    signed_on = None
    if signed is not None:
        try:
            signed_on = date.fromisoformat(signed)
        except ValueError:
            raise fail(f"--signed: {signed[:20]!r} is not a date YYYY-MM-DD") from None
    with _modes(database) as modes:
        mandates = Mandates(modes.db, modes.clock)
        if revoke:
            revoked = mandates.revoke(account, reference)
            if revoked is None:
                named = f" {reference}" if reference else ""
                console.print(f"{account}: no active mandate{named}", highlight=False)
            else:
                console.print(f"{account}: mandate {revoked} revoked; its invoices ask for a "
                              "credit transfer", highlight=False)
            return
        if reference is None or iban is None or signed_on is None:
            listed = mandates.of_account(account)
            for one in listed:
                typer.echo(str(one))
            if not listed:
                console.print(f"{account}: no mandate", highlight=False)
            return
        outcome = mandates.set(account, reference, iban, signed_on)
        stored = mandates.active(account)
    assert stored is not None
    console.print(f"{stored}: {outcome}", highlight=False)
    _warn_without_creditor_id()


def _warn_without_creditor_id() -> None:
    from evbill.invoicing.settings import get_invoicing_settings

    if not get_invoicing_settings().sepa_creditor_id:
        console.print("warning: EVBILL_INVOICE_SEPA_CREDITOR_ID is not set; invoices of this "
                      "account cannot be issued until it is", highlight=False)
