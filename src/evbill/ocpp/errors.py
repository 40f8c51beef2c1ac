"""OCPP-J CallError codes per protocol version, and the gateway's own exceptions.

The `ocpp` library names its errors after OCPP 2.0.1; 1.6 keeps the historic spellings
(`FormationViolation`, `OccurenceConstraintViolation`, OCPP-J 1.6 errata §5), and 2.x adds
`RpcFrameworkError` and `MessageTypeNotSupported`. Everything that becomes a CallError goes
through `for_version` so each station hears its own dialect.
"""

from __future__ import annotations

from typing import Any

from jsonschema.exceptions import ValidationError as SchemaValidationError  # type: ignore[import-untyped]
from ocpp.exceptions import (
    FormationViolationError,
    FormatViolationError,
    GenericError,
    InternalError,
    NotImplementedError,
    NotSupportedError,
    OccurenceConstraintViolationError,
    OccurrenceConstraintViolationError,
    OCPPError,
    PropertyConstraintViolationError,
    ProtocolError,
    SecurityError,
    TypeConstraintViolationError,
)

from evbill.sessions.lookup import SessionError, UnknownStation

__all__ = [
    "GatewayError",
    "MessageTypeNotSupportedError",
    "RpcFrameworkError",
    "StationCallError",
    "StationCallTimeout",
    "StationNotConnected",
    "for_version",
    "framing_error",
    "internal_error",
    "message_type_error",
    "not_json_error",
    "schema_error",
    "service_error",
    "unknown_action_error",
]


class RpcFrameworkError(OCPPError):  # type: ignore[misc]
    """2.x: the frame is not a valid RPC message (e.g. its message id cannot be read)."""

    code = "RpcFrameworkError"
    default_description = "Content of the call is not a valid RPC request"


class MessageTypeNotSupportedError(OCPPError):  # type: ignore[misc]
    """2.x: a message type number this implementation does not know."""

    code = "MessageTypeNotSupported"
    default_description = "A message with a MessageTypeId that is not supported was received"


# Descriptions as the specification words them (the library swaps NotImplemented/NotSupported).
_NOT_IMPLEMENTED = "Requested Action is not known by receiver"
_NOT_SUPPORTED = "Requested Action is recognized but not supported by the receiver"


def _is_v16(version: str) -> bool:
    return version == "1.6"


def for_version(error: OCPPError, version: str) -> OCPPError:
    """The same error spelled the way `version` spells it (1.6 keeps its typos)."""
    if _is_v16(version):
        if isinstance(error, FormatViolationError):
            return FormationViolationError(error.description, error.details)
        if isinstance(error, OccurrenceConstraintViolationError):
            return OccurenceConstraintViolationError(error.description, error.details)
        if isinstance(error, RpcFrameworkError):
            return ProtocolError(error.description, error.details)
        if isinstance(error, MessageTypeNotSupportedError):
            return PropertyConstraintViolationError(error.description, error.details)
        return error
    if isinstance(error, FormationViolationError):
        return FormatViolationError(error.description, error.details)
    if isinstance(error, OccurenceConstraintViolationError):
        return OccurrenceConstraintViolationError(error.description, error.details)
    return error


def not_json_error(version: str, reason: str) -> OCPPError:
    """The frame is not JSON text at all."""
    return for_version(FormatViolationError(details={"cause": reason}), version)


def framing_error(version: str, reason: str) -> OCPPError:
    """The frame is JSON but not an OCPP-J RPC array of the right shape."""
    return for_version(RpcFrameworkError(details={"cause": reason}), version)


def message_type_error(version: str, message_type: Any) -> OCPPError:
    """The MessageTypeId is not one this version defines."""
    cause = f"MessageTypeId {message_type!r} is not supported"
    return for_version(MessageTypeNotSupportedError(details={"cause": cause}), version)


def unknown_action_error(version: str, action: str, known_actions: frozenset[str]) -> OCPPError:
    """NotSupported for an action the version defines but we do not serve, else NotImplemented."""
    if action in known_actions:
        cause = f"{action} is an OCPP {version} action this CSMS does not accept"
        return NotSupportedError(_NOT_SUPPORTED, {"cause": cause})
    return NotImplementedError(_NOT_IMPLEMENTED, {"cause": f"unknown action {action!r}"})


def schema_error(error: SchemaValidationError, version: str) -> OCPPError:
    """Translate a JSON-schema violation into the OCPP error code that describes it."""
    where = "/".join(str(p) for p in error.absolute_path) or "payload"
    details = {"cause": f"{where}: {error.message}"[:500]}
    kind = error.validator
    result: OCPPError
    if kind in ("type", "maxLength"):
        # Types such as CiString25Type carry their length, so maxLength is a type violation.
        result = TypeConstraintViolationError(details=details)
    elif kind in ("required", "minItems", "maxItems"):
        if _is_v16(version) and kind == "required":
            result = ProtocolError(details=details)  # 1.6: "Payload for Action is incomplete"
        else:
            result = OccurrenceConstraintViolationError(details=details)
    elif kind in ("enum", "minimum", "maximum", "pattern", "format", "minLength", "multipleOf"):
        result = PropertyConstraintViolationError(details=details)
    else:  # additionalProperties and structural mismatches
        result = FormatViolationError(details=details)
    return for_version(result, version)


def service_error(exc: Exception) -> OCPPError:
    """A session-service refusal as a CallError; anything unexpected is an InternalError.

    An unregistered station gets SecurityError, as OCPP 2.0.1 B02/B03 require for messages
    from a station whose boot was not accepted. Domain errors name the field and reason,
    which is safe to tell the station; other exceptions are not described.
    """
    if isinstance(exc, UnknownStation):
        return SecurityError(details={"cause": str(exc)[:500]})
    if isinstance(exc, SessionError):
        return GenericError(details={"cause": str(exc)[:500]})
    return internal_error(type(exc).__name__)


def internal_error(reason: str) -> OCPPError:
    """Something failed on our side; the station may retry."""
    return InternalError(details={"cause": reason})


# --- gateway exceptions (raised to Python callers, translated by the CLI) ---------------------


class GatewayError(Exception):
    """Base class for errors the gateway raises to its Python callers."""


class StationNotConnected(GatewayError):
    def __init__(self, station_id: str) -> None:
        super().__init__(f"station_id {station_id!r}: not connected to this gateway")
        self.station_id = station_id


class StationCallTimeout(GatewayError):
    def __init__(self, station_id: str, action: str, timeout_s: float) -> None:
        super().__init__(f"station_id {station_id!r}: no answer to {action} within {timeout_s:g} s")
        self.station_id = station_id
        self.action = action


class StationCallError(GatewayError):
    """The station answered our CALL with a CALLERROR."""

    def __init__(self, station_id: str, action: str, code: str, description: str) -> None:
        super().__init__(f"station_id {station_id!r}: {action} failed with {code}: {description}")
        self.station_id = station_id
        self.action = action
        self.code = code
