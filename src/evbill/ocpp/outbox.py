"""Operator commands across processes: drain the store's `station_commands` outbox.

The CLI (or the API) enqueues a row; the gateway process that holds the station's socket
claims it, sends the CALL and writes the station's answer back. Payloads are plain JSON:
`remote_start` {evse_id, id_token, id_token_type}, `remote_stop` {transaction_id}.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any, Protocol

from evbill.ocpp.errors import GatewayError
from evbill.ocpp.rpc import RemoteCommandResult
from evbill.sessions.commands import IdToken, IdTokenType

__all__ = [
    "REMOTE_START",
    "REMOTE_STOP",
    "CommandOutbox",
    "OutboxWorker",
    "PendingCommand",
    "remote_start_payload",
    "remote_stop_payload",
]

log = logging.getLogger("evbill.ocpp")

REMOTE_START = "remote_start"
REMOTE_STOP = "remote_stop"


class PendingCommand(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def station_id(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def payload(self) -> dict[str, Any]: ...


class CommandOutbox(Protocol):
    """The gateway's side of `evbill.store.outbox.StationCommandOutbox`."""

    def claim_pending(
        self, station_ids: Sequence[str], *, claimed_by: str, now: datetime, limit: int = 50
    ) -> Sequence[PendingCommand]: ...

    def finish(
        self,
        command_id: str,
        *,
        now: datetime,
        result: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> object: ...


def remote_start_payload(evse_id: int, id_token: IdToken) -> dict[str, Any]:
    return {"evse_id": evse_id, "id_token": id_token.value, "id_token_type": id_token.type.value}


def remote_stop_payload(transaction_id: str) -> dict[str, Any]:
    return {"transaction_id": transaction_id}


class Commands(Protocol):
    """What the worker needs from the gateway."""

    def connected_station_ids(self) -> list[str]: ...

    async def remote_start(
        self, station_id: str, evse_id: int, id_token: IdToken
    ) -> RemoteCommandResult: ...

    async def remote_stop(self, station_id: str, transaction_id: str) -> RemoteCommandResult: ...


Blocking = Callable[[Callable[[], Any]], Awaitable[Any]]


class OutboxWorker:
    """Polls the outbox for commands to connected stations and runs each in its own task."""

    def __init__(
        self,
        outbox: CommandOutbox,
        gateway: Commands,
        *,
        name: str,
        interval_s: float,
        run_blocking: Blocking,
        clock: Callable[[], datetime],
    ) -> None:
        self._outbox = outbox
        self._gateway = gateway
        self._name = name
        self._interval = interval_s
        self._blocking = run_blocking
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        """Poll until cancelled; a failing poll is logged and retried on the next tick."""
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.poll_once()
            except Exception:
                log.exception("ocpp.outbox_poll_failed gateway=%s", self._name)

    async def poll_once(self) -> int:
        """Claim and start what is pending for our stations; returns how many were claimed."""
        station_ids = self._gateway.connected_station_ids()
        if not station_ids:
            return 0
        commands = await self._blocking(
            lambda: self._outbox.claim_pending(
                station_ids, claimed_by=self._name, now=self._clock()
            )
        )
        for command in commands:
            task = asyncio.create_task(self._execute(command))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(commands)

    async def _execute(self, command: PendingCommand) -> None:
        result: dict[str, Any] | None = None
        error: str | None = None
        try:
            answer = await self._send(command.action, command.station_id, command.payload)
            result = asdict(answer)
        except (GatewayError, KeyError, ValueError, TypeError) as exc:
            error = str(exc) or type(exc).__name__
        log.info(
            "ocpp.outbox_command id=%s station=%s action=%s outcome=%s",
            command.id,
            command.station_id,
            command.action,
            "error" if error else (result or {}).get("status"),
        )
        try:
            await self._blocking(
                lambda: self._outbox.finish(
                    command.id, now=self._clock(), result=result, error=error
                )
            )
        except Exception:
            log.exception("ocpp.outbox_finish_failed id=%s", command.id)

    async def _send(
        self, action: str, station_id: str, payload: Mapping[str, Any]
    ) -> RemoteCommandResult:
        if action == REMOTE_START:
            token = IdToken(
                str(payload["id_token"]),
                IdTokenType(payload.get("id_token_type", IdTokenType.ISO14443.value)),
            )
            return await self._gateway.remote_start(station_id, int(payload["evse_id"]), token)
        if action == REMOTE_STOP:
            return await self._gateway.remote_stop(station_id, str(payload["transaction_id"]))
        raise ValueError(f"action: {action!r} is not a command this gateway can send")

    async def drain(self) -> None:
        """Wait for the commands already started (used on shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
