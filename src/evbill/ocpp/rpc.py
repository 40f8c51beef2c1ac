"""OCPP-J message handling shared by the version adapters: frames in, CallResult/CallError out.

Built on `ocpp.ChargePoint` (routing with `@on`, outgoing `call()`), replacing its receive
path: the library logs and drops frames it cannot parse, answers unknown actions with the
NotImplemented/NotSupported meanings swapped and sends nothing for an unknown 2.1 action.
Here every bad CALL gets the version's own CallError and the connection carries on.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

from jsonschema.exceptions import best_match  # type: ignore[import-untyped]
from ocpp.charge_point import (
    ChargePoint,
    camel_to_snake_case,
    remove_nones,
    serialize_as_dict,
    snake_to_camel_case,
)
from ocpp.exceptions import OCPPError, UnknownCallErrorCodeError
from ocpp.messages import Call, CallError, CallResult, MessageType, get_validator
from ocpp.routing import on as _ocpp_on
from websockets.exceptions import ConnectionClosed

from evbill.ocpp import errors
from evbill.ocpp.batching import MeterValuesBatcher
from evbill.sessions.commands import (
    IdToken,
    RecordMeterValues,
    SessionCommands,
    TransactionEventRecorded,
)

__all__ = [
    "DataTransferHandler",
    "FrameRejected",
    "RemoteCommandResult",
    "ServiceBridge",
    "StationConnection",
    "on",
    "parse_frame",
]

log = logging.getLogger("evbill.ocpp")
frames_log = logging.getLogger("evbill.ocpp.frames")

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")
R = TypeVar("R")

#: vendorId → messageId ("" when the station sends none) → handler(station_id, data) → data.
DataTransferHandler = Callable[[str, Any], Awaitable[Any]]
DataTransferRoutes = Mapping[str, Mapping[str, DataTransferHandler]]

_CALL, _RESULT, _ERROR = MessageType.Call, MessageType.CallResult, MessageType.CallError
_CALLRESULTERROR, _SEND = 5, 6  # OCPP 2.1 only; neither is ever answered
#: Deepest nesting a frame may have. OCPP payloads nest about 8 levels (frame, payload,
#: meterValue, sampledValue, signedMeterValue…); deeper input only costs recursion.
MAX_FRAME_DEPTH = 32


def on(action: str) -> Callable[[F], F]:
    """`ocpp.routing.on`, typed."""
    decorator: Callable[[F], F] = _ocpp_on(action)
    return decorator


@dataclass(frozen=True, slots=True)
class RemoteCommandResult:
    """A station's answer to an operator command, in version-neutral words."""

    status: str  # "Accepted" | "Rejected"
    transaction_id: str | None = None
    reason: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status == "Accepted"


class ServiceBridge:
    """Runs the synchronous session service on a bounded thread pool, off the event loop."""

    def __init__(
        self,
        service: SessionCommands,
        executor: Executor,
        clock: Callable[[], datetime] | None = None,
        *,
        max_batch: int = 500,
    ) -> None:
        self.service = service
        self._executor = executor
        self._clock = clock or (lambda: datetime.now(UTC))
        self.meter_values_batcher = MeterValuesBatcher.for_service(
            service, executor, max_batch=max_batch
        )

    def now(self) -> datetime:
        return self._clock()

    async def meter_values(self, cmd: RecordMeterValues) -> TransactionEventRecorded:
        """Record `cmd` through group commit; returns once ITS samples are committed."""
        return await self.meter_values_batcher.submit(cmd)

    async def run(self, fn: Callable[[T], R], arg: T) -> R:
        """Call `fn(arg)` in the pool; returns once the service has committed."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, arg)


class FrameRejected(Exception):
    """A frame that cannot be routed; `error` is the CallError to send (None: ignore it)."""

    def __init__(self, unique_id: str, error: OCPPError | None, reason: str) -> None:
        super().__init__(reason)
        self.unique_id = unique_id
        self.error = error


def _message_id(frame: list[Any]) -> str:
    ident = frame[1] if len(frame) > 1 else None
    return ident if isinstance(ident, str) and 0 < len(ident) <= 36 else "-1"


def _deeper_than(value: Any, limit: int) -> bool:
    """True when `value` nests more than `limit` arrays/objects (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > limit:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, list | dict))
    return False


def _decode(raw: str, version: str) -> Any:
    """The frame's JSON, refused as a format violation when broken or nested too deep."""
    too_deep = False
    frame: Any = None
    try:
        frame = json.loads(raw, parse_float=Decimal)
    except RecursionError:  # the decoder's own stack ran out: far beyond any real payload
        too_deep = True
    except ValueError:
        raise FrameRejected("-1", errors.not_json_error(version, "not JSON"), "not JSON") from None
    # Counting brackets first keeps the walk off the ordinary (shallow, small) frame's path.
    if too_deep or (raw.count("[") + raw.count("{") > MAX_FRAME_DEPTH
                    and isinstance(frame, list | dict) and _deeper_than(frame, MAX_FRAME_DEPTH)):
        reason = f"JSON nested deeper than {MAX_FRAME_DEPTH} levels"
        raise FrameRejected("-1", errors.not_json_error(version, reason), reason)
    return frame


def parse_frame(raw: str | bytes, version: str) -> Call | CallResult | CallError | None:
    """An OCPP-J frame as a library message; None for a 2.1 frame that needs no routing."""
    if isinstance(raw, bytes):
        raise FrameRejected("-1", errors.not_json_error(version, "binary frame"), "binary frame")
    frame = _decode(raw, version)
    if not isinstance(frame, list) or not frame:
        reason = "an OCPP-J frame is a non-empty JSON array"
        raise FrameRejected("-1", errors.framing_error(version, reason), reason)
    unique_id, kind = _message_id(frame), frame[0]
    if kind == _CALL:
        if len(frame) != 4 or unique_id == "-1" or not isinstance(frame[2], str):
            reason = "a CALL is [2, messageId, action, payload]"
            raise FrameRejected(unique_id, errors.framing_error(version, reason), reason)
        return Call(unique_id, frame[2], frame[3])
    if kind == _RESULT and len(frame) == 3:
        return CallResult(unique_id, frame[2])
    if kind == _ERROR and len(frame) == 5:
        return CallError(unique_id, *frame[2:])
    if kind in (_RESULT, _ERROR):
        raise FrameRejected(unique_id, None, f"malformed answer frame of type {kind}")
    if version == "2.1" and kind in (_CALLRESULTERROR, _SEND):
        return None
    raise FrameRejected(unique_id, errors.message_type_error(version, kind), f"type {kind!r}")


class StationConnection(ChargePoint):  # type: ignore[misc]
    """One station's socket: routes its CALLs to the `@on` handlers of a version adapter."""

    version: ClassVar[str]  # the `ocpp` library's name: "1.6", "2.0.1", "2.1"
    protocol: ClassVar[str]  # the WebSocket subprotocol: "ocpp1.6", …
    known_actions: ClassVar[frozenset[str]]  # every action the version defines

    def __init__(
        self,
        station_id: str,
        websocket: Any,
        bridge: ServiceBridge,
        *,
        call_timeout: float = 30.0,
        data_transfer: DataTransferRoutes | None = None,
        validate_answers: bool = False,
    ) -> None:
        super().__init__(station_id, websocket, response_timeout=call_timeout, logger=frames_log)
        self.station_id = station_id
        self.websocket = websocket
        self.bridge = bridge
        self.service = bridge.service
        self._data_transfer = data_transfer or {}
        # Answers are built from typed dataclasses; checking them against the schema too
        # doubles the per-message cost, so it is for tests and debugging.
        self.validate_answers = validate_answers

    # --- receiving ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Handle frames until the socket closes (one at a time, as OCPP-J requires)."""
        async for raw in self._connection:
            await self.route_message(raw)

    async def route_message(self, raw: str | bytes) -> None:
        frames_log.debug("ocpp.frame_in station=%s frame=%.2000s", self.station_id, raw)
        try:
            message = parse_frame(raw, self.version)
        except FrameRejected as rejected:
            log.warning(
                "ocpp.frame_rejected station=%s code=%s cause=%s",
                self.station_id,
                rejected.error.code if rejected.error else "-",
                rejected,
            )
            if rejected.error is not None:
                error = rejected.error
                reply = CallError(rejected.unique_id, error.code, error.description, error.details)
                await self._send(reply.to_json())
            return
        if isinstance(message, Call):
            await self._send(await self._answer(message))
        elif isinstance(message, CallResult | CallError):
            self._response_queue.put_nowait(message)
        else:
            log.info("ocpp.frame_ignored station=%s reason=type-5-or-6", self.station_id)

    async def _answer(self, call: Call) -> str:
        try:
            return str((await self._dispatch(call)).to_json())
        except OCPPError as exc:
            error = errors.for_version(exc, self.version)
            log.warning(
                "ocpp.call_error station=%s action=%s code=%s cause=%s",
                self.station_id,
                call.action,
                error.code,
                error.details.get("cause", error.description),
            )
        except Exception as exc:
            error = errors.service_error(exc)
            if error.code == "InternalError":
                log.exception(
                    "ocpp.handler_failed station=%s action=%s", self.station_id, call.action
                )
            else:
                log.warning(
                    "ocpp.service_refused station=%s action=%s code=%s cause=%s",
                    self.station_id, call.action, error.code, exc,
                )  # fmt: skip
        return str(call.create_call_error(error).to_json())

    async def _dispatch(self, call: Call) -> CallResult:
        handlers = self.route_map.get(call.action, {})
        handler = handlers.get("_on_action")
        if handler is None:
            raise errors.unknown_action_error(self.version, call.action, self.known_actions)
        self._validate(call)
        response = await handler(**camel_to_snake_case(call.payload))
        payload = snake_to_camel_case(remove_nones(serialize_as_dict(response)))
        result = call.create_call_result(payload)
        if self.validate_answers:
            try:
                self._validate(result)
            except OCPPError as exc:  # our answer is wrong: a bug here, not the station's
                raise errors.internal_error(f"invalid {call.action} answer: {exc.details}") from exc
        return result

    def _validate(self, message: Call | CallResult) -> None:
        """Schema check in the loop: a few hundred µs, cheaper than a thread hop per frame."""
        validator = get_validator(message.message_type_id, message.action, self.version)
        problem = best_match(validator.iter_errors(message.payload))
        if problem is not None:
            raise errors.schema_error(problem, self.version)

    async def _send(self, message: str) -> None:
        frames_log.debug("ocpp.frame_out station=%s frame=%.2000s", self.station_id, message)
        await self._connection.send(message)

    # --- helpers for adapters ----------------------------------------------------------------

    async def data_transfer_answer(
        self, vendor_id: str, message_id: str | None, data: Any
    ) -> tuple[str, Any]:
        """(status, data) for a DataTransfer: unknown vendors and messages are said so."""
        vendor = self._data_transfer.get(vendor_id)
        if vendor is None:
            return "UnknownVendorId", None
        handler = vendor.get(message_id or "")
        if handler is None:
            return "UnknownMessageId", None
        return "Accepted", await handler(self.station_id, data)

    async def send_call(self, payload: Any) -> Any:
        """Send an operator CALL; CallErrors and timeouts become gateway exceptions."""
        action = type(payload).__name__
        try:
            return await self.call(payload, suppress=False)
        except ConnectionClosed:
            raise errors.StationNotConnected(self.station_id) from None
        except TimeoutError:
            raise errors.StationCallTimeout(
                self.station_id, action, self._response_timeout
            ) from None
        except OCPPError as exc:
            raise errors.StationCallError(
                self.station_id, action, exc.code, str(exc.description)
            ) from exc
        except UnknownCallErrorCodeError as exc:
            raise errors.StationCallError(self.station_id, action, "Unknown", str(exc)) from exc

    # --- operator commands, per version ------------------------------------------------------

    async def remote_start(
        self, evse_id: int, id_token: IdToken, remote_start_id: int
    ) -> RemoteCommandResult:
        raise NotImplementedError  # each version adapter implements it

    async def remote_stop(self, transaction_id: str) -> RemoteCommandResult:
        raise NotImplementedError
