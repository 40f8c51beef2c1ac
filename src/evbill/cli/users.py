"""`evbill users …`: operator staff (admin and finance users) without touching the database by
hand. Passwords follow the drivers' rules; they are prompted (twice, hidden) or read from
stdin with --password-stdin, never taken as an argument."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from evbill.cli.app import app, console, fail

if TYPE_CHECKING:
    from evbill.accounts.users import UserService

users_app = typer.Typer(help="Operator staff users (operator_admin, finance).",
                        no_args_is_help=True)  # fmt: skip
app.add_typer(users_app, name="users")


class StaffRole(StrEnum):
    OPERATOR_ADMIN = "operator_admin"
    FINANCE = "finance"


@contextmanager
def _users() -> Iterator[UserService]:
    """The user service on the configured database, with the installation's API keys (the
    same ones `evbill serve` uses, so the staff can sign in there)."""
    from evbill.accounts.crypto import FieldCipher, Passwords
    from evbill.accounts.users import UserService
    from evbill.api.settings import ApiSettings, resolve_secrets
    from evbill.clock import utc_now
    from evbill.config import get_settings
    from evbill.store.database import Database
    from evbill.store.migrate import SchemaError

    settings = get_settings()
    api = resolve_secrets(ApiSettings(), settings.data_dir)
    assert api.field_key is not None
    try:
        db = Database.open(settings.resolved_database_url)
    except SchemaError as exc:
        raise fail(str(exc)) from None
    try:
        yield UserService(db, Passwords(time_cost=api.argon2_time_cost,
                                        memory_kib=api.argon2_memory_kib),
                          FieldCipher(api.field_key.get_secret_value()), utc_now)  # fmt: skip
    finally:
        db.dispose()


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    first = typer.prompt("Password", hide_input=True)
    if typer.prompt("Repeat password", hide_input=True) != first:
        raise fail("password: the two entries differ")
    return str(first)


@users_app.command("add")
def users_add(
    email: Annotated[str, typer.Argument(metavar="EMAIL")],
    role: Annotated[StaffRole, typer.Option("--role", help="operator_admin or finance")],
    operator: Annotated[str, typer.Option("--operator", metavar="NET",
                                          help="the operator network they work for")],
    name: Annotated[str | None, typer.Option(help="display name (default: the email)")] = None,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="read the password from the first line of stdin")] = False,
) -> None:
    """Create a staff user (password prompted, or --password-stdin; 10 to 256 characters)."""
    from evbill.accounts.roles import Role
    from evbill.accounts.users import UserError

    password = _password(password_stdin)
    with _users() as users:
        try:
            row = users.create(email, password, name or email, Role(role.value), operator)
        except UserError as exc:
            raise fail(str(exc)) from None
    typer.echo(row.id)
    console.print(f"{role.value} {email} added to {operator} ({row.id})", highlight=False)


@users_app.command("list")
def users_list(
    operator: Annotated[str | None, typer.Option("--operator", metavar="NET",
                                                 help="only this network")] = None,
) -> None:
    """Show the staff users (id, email, role, network, state), one per line on stdout."""
    with _users() as users:
        staff = users.staff(operator)
    for p in staff:
        state = "disabled" if p.disabled else "active"
        typer.echo(f"{p.user_id}\t{p.email}\t{p.role}\t{p.operator_id or ''}\t{state}")


@users_app.command("disable")
def users_disable(
    email: Annotated[str, typer.Argument(metavar="EMAIL")],
    enable: Annotated[bool, typer.Option("--enable", help="enable the user again")] = False,
) -> None:
    """Disable a staff user: no more sign-ins, and their tokens stop working."""
    from evbill.accounts.users import UserError

    with _users() as users:
        try:
            user = users.staff_by_email(email)
            users.set_disabled(user.id, not enable)
        except UserError as exc:
            raise fail(str(exc)) from None
    console.print(f"{email} {'enabled' if enable else 'disabled'}", highlight=False)
