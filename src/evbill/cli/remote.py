"""`evbill remote-start` / `evbill remote-stop`: operator commands through the outbox.

The command is written to the store's `station_commands` table; whichever gateway process
holds the station's socket sends it and writes the answer back, which is printed as JSON.
Exit codes: 0 the station accepted, 1 it rejected, 3 no answer (not connected, timeout,
CallError), 2 usage or database errors.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from evbill.cli.app import app, console, fail
from evbill.sessions.commands import IdToken, IdTokenType

if TYPE_CHECKING:
    from evbill.store.outbox import StationCommand, StationCommandOutbox

_POLL_S = 0.2
_UNANSWERED = 3


def _wait(outbox: StationCommandOutbox, command: StationCommand, timeout: float) -> StationCommand:
    """Poll until the command is done or failed; give up (and withdraw it) after `timeout`."""
    from evbill.clock import utc_now
    from evbill.store.outbox import StationCommandError

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = outbox.get(command.id)
        if current is not None and current.status in ("done", "failed"):
            return current
        time.sleep(_POLL_S)
    current = outbox.get(command.id) or command
    if current.status == "pending":
        reason = f"no gateway with station {command.station_id!r} took it within {timeout:g} s"
        try:  # withdraw it, so a station that connects later does not act on a stale command
            return outbox.finish(command.id, now=utc_now(), error=reason)
        except StationCommandError:
            current = outbox.get(command.id) or current
    return current


def _run(station: str, action: str, payload: dict[str, Any], timeout: float) -> None:
    from evbill.clock import utc_now
    from evbill.config import get_settings
    from evbill.store.database import Database
    from evbill.store.migrate import SchemaError
    from evbill.store.outbox import StationCommandError, StationCommandOutbox

    try:
        db = Database.open(get_settings().resolved_database_url)
    except SchemaError as exc:
        raise fail(str(exc)) from None
    try:
        outbox = StationCommandOutbox(db)
        try:
            command = outbox.enqueue(station, action, payload, now=utc_now())
        except StationCommandError as exc:
            raise fail(str(exc)) from None
        done = _wait(outbox, command, timeout)
    finally:
        db.dispose()
    typer.echo(json.dumps({"command_id": done.id, "state": done.status, "error": done.error,
                           **(done.result or {})}))  # fmt: skip
    if done.status == "failed":
        raise fail(done.error or "the command failed", _UNANSWERED)
    if done.status != "done":
        raise fail(f"station {station!r} has not answered within {timeout:g} s", _UNANSWERED)
    status = (done.result or {}).get("status")
    console.print(f"{station}: {action} {status}", highlight=False)
    if status != "Accepted":
        raise typer.Exit(1)


@app.command("remote-start")
def remote_start(
    station: Annotated[str, typer.Argument(help="station id")],
    evse: Annotated[int, typer.Option("--evse", min=0, help="EVSE (1.6: connector)")],
    id_tag: Annotated[str, typer.Option("--id-tag", help="token to start the session for")],
    token_type: Annotated[IdTokenType, typer.Option("--token-type")] = IdTokenType.ISO14443,
    timeout: Annotated[float, typer.Option(min=0.1, help="seconds to wait")] = 30.0,
) -> None:
    """Ask a connected station to start a transaction (RemoteStart/RequestStartTransaction)."""
    from evbill.ocpp.outbox import REMOTE_START, remote_start_payload

    payload = remote_start_payload(evse, IdToken(id_tag, token_type))
    _run(station, REMOTE_START, payload, timeout)


@app.command("remote-stop")
def remote_stop(
    station: Annotated[str, typer.Argument(help="station id")],
    transaction_id: Annotated[str, typer.Argument(help="the station's transaction id")],
    timeout: Annotated[float, typer.Option(min=0.1, help="seconds to wait")] = 30.0,
) -> None:
    """Ask a connected station to stop a transaction (RemoteStop/RequestStopTransaction)."""
    from evbill.ocpp.outbox import REMOTE_STOP, remote_stop_payload

    _run(station, REMOTE_STOP, remote_stop_payload(transaction_id), timeout)
