"""The station side of the OCPP connection: `ocpp` ChargePoint clients that answer the CSMS.

Each version's client routes the CSMS's remote start and stop (and a few configuration
calls) to the owning `SimStation` through the `RemoteControl` callbacks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar, cast

from ocpp.routing import on as _ocpp_on
from ocpp.v16 import ChargePoint as V16ChargePoint
from ocpp.v16 import call_result as v16_result
from ocpp.v16.enums import Action as V16Action
from ocpp.v21 import ChargePoint as V21ChargePoint
from ocpp.v21 import call_result as v21_result
from ocpp.v21.enums import Action as V21Action
from ocpp.v201 import ChargePoint as V201ChargePoint
from ocpp.v201 import call_result as v201_result
from ocpp.v201.enums import Action as V201Action

__all__ = ["RemoteControl", "client_for"]

_F = TypeVar("_F", bound=Callable[..., Any])


def on(action: str) -> Callable[[_F], _F]:
    """`ocpp.routing.on` with a type mypy can see through."""
    return cast(Callable[[_F], _F], _ocpp_on(action))


class RemoteControl(Protocol):
    """What the station does when the CSMS asks it to start or stop a transaction."""

    def remote_start(self, id_tag: str, id_token_type: str, evse_id: int | None,
                     remote_start_id: int | None) -> bool: ...

    def remote_stop(self, transaction_id: str) -> bool: ...


class _V16Client(V16ChargePoint):  # type: ignore[misc]
    def __init__(self, station_id: str, connection: Any, control: RemoteControl,
                 timeout: float) -> None:
        super().__init__(station_id, connection, response_timeout=timeout)
        self.control = control

    @on(V16Action.remote_start_transaction)
    def _remote_start(self, id_tag: str, connector_id: int | None = None,
                      **_: Any) -> Any:
        ok = self.control.remote_start(id_tag, "ISO14443", connector_id, None)
        return v16_result.RemoteStartTransaction(status="Accepted" if ok else "Rejected")

    @on(V16Action.remote_stop_transaction)
    def _remote_stop(self, transaction_id: int, **_: Any) -> Any:
        ok = self.control.remote_stop(str(transaction_id))
        return v16_result.RemoteStopTransaction(status="Accepted" if ok else "Rejected")

    @on(V16Action.change_configuration)
    def _change_configuration(self, key: str, value: str, **_: Any) -> Any:
        return v16_result.ChangeConfiguration(status="Accepted")

    @on(V16Action.get_configuration)
    def _get_configuration(self, **_: Any) -> Any:
        return v16_result.GetConfiguration(configuration_key=[], unknown_key=[])


def _v2_handlers(result: Any, action: Any) -> tuple[Any, Any, Any]:
    """Remote start, remote stop and SetVariables handlers for a 2.x client class."""

    @on(action.request_start_transaction)
    def _request_start(self: Any, id_token: dict[str, Any], remote_start_id: int,
                       evse_id: int | None = None, **_: Any) -> Any:
        ok = self.control.remote_start(id_token["id_token"], id_token["type"], evse_id,
                                       remote_start_id)
        return result.RequestStartTransaction(status="Accepted" if ok else "Rejected")

    @on(action.request_stop_transaction)
    def _request_stop(self: Any, transaction_id: str, **_: Any) -> Any:
        ok = self.control.remote_stop(transaction_id)
        return result.RequestStopTransaction(status="Accepted" if ok else "Rejected")

    @on(action.set_variables)
    def _set_variables(self: Any, set_variable_data: list[dict[str, Any]], **_: Any) -> Any:
        answers = [{"attributeStatus": "Accepted", "component": item["component"],
                    "variable": item["variable"]} for item in set_variable_data]
        return result.SetVariables(set_variable_result=answers)

    return _request_start, _request_stop, _set_variables


class _V201Client(V201ChargePoint):  # type: ignore[misc]
    def __init__(self, station_id: str, connection: Any, control: RemoteControl,
                 timeout: float) -> None:
        super().__init__(station_id, connection, response_timeout=timeout)
        self.control = control

    _request_start, _request_stop, _set_variables = _v2_handlers(v201_result, V201Action)


class _V21Client(V21ChargePoint):  # type: ignore[misc]
    def __init__(self, station_id: str, connection: Any, control: RemoteControl,
                 timeout: float) -> None:
        super().__init__(station_id, connection, response_timeout=timeout)
        self.control = control

    _request_start, _request_stop, _set_variables = _v2_handlers(v21_result, V21Action)


_CLIENTS: dict[str, type[Any]] = {"1.6": _V16Client, "2.0.1": _V201Client, "2.1": _V21Client}


def client_for(version: str, station_id: str, connection: Any, control: RemoteControl,
               timeout: float) -> Any:
    """An `ocpp` ChargePoint for `version` on an open connection."""
    return _CLIENTS[version](station_id, connection, control, timeout)
