"""OCPP 2.0.1 adapter: 2.0.1 messages → session commands, results → 2.0.1 answers.

A TransactionEvent becomes StartSession (Started), RecordMeterValues (Updated) or
StopSession (Ended); its triggerReason, chargingState and seqNo travel with the command.
OCPP 2.1 (`v21.py`) reuses these handlers with its own message classes and schemas.
"""

from __future__ import annotations

import logging
from typing import Any

from ocpp.v201 import call, call_result
from ocpp.v201.enums import Action

from evbill.ocpp.rpc import RemoteCommandResult, StationConnection, on
from evbill.ocpp.translate import (
    authorization_status,
    id_token,
    iso,
    parse_time,
    readings,
    readings_energy,
)
from evbill.sessions.commands import (
    AuthorizationResult,
    AuthorizationStatus,
    Authorize,
    BootStation,
    ChargingState,
    ConnectorStatusChanged,
    IdToken,
    ReadingContext,
    RecordMeterValues,
    StartSession,
    StopSession,
)

__all__ = ["V201Station"]

log = logging.getLogger("evbill.ocpp")

_STATUSES = frozenset(s.value for s in AuthorizationStatus)
_UNKNOWN_TOKEN = AuthorizationResult(AuthorizationStatus.UNKNOWN, reason="unknown idToken type")


def id_token_info(result: AuthorizationResult) -> dict[str, Any]:
    """IdTokenInfoType (snake_case keys; the library camelCases them on the way out)."""
    info: dict[str, Any] = {"status": authorization_status(result.status, _STATUSES)}
    if result.expires_at is not None:
        info["cache_expiry_date_time"] = iso(result.expires_at)
    if result.group_id:
        info["group_id_token"] = {"id_token": result.group_id[:36], "type": "Central"}
    if result.reason:
        info["personal_message"] = {"format": "UTF8", "content": result.reason[:512]}
    return info


def _charging_state(info: dict[str, Any]) -> ChargingState | None:
    state = info.get("charging_state")
    return ChargingState(state) if state else None


class V201Station(StationConnection):
    """A station speaking OCPP 2.0.1."""

    version = "2.0.1"
    protocol = "ocpp2.0.1"
    known_actions = frozenset(a.value for a in Action)
    _call = call
    _call_result = call_result
    _ocpp_version = "2.0.1"

    @on("BootNotification")
    async def on_boot(self, charging_station: dict[str, Any], **_: Any) -> Any:
        result = await self.bridge.run(
            self.service.boot,
            BootStation(
                station_id=self.station_id,
                protocol=self.protocol,
                vendor=charging_station["vendor_name"],
                model=charging_station["model"],
                at=self.bridge.now(),
                serial_number=charging_station.get("serial_number"),
                firmware_version=charging_station.get("firmware_version"),
            ),
        )
        status_info = None
        if not result.accepted and result.reason:
            status_info = {"reason_code": "Rejected", "additional_info": result.reason[:512]}
        return self._call_result.BootNotification(
            current_time=iso(result.at),
            interval=result.heartbeat_interval_s,
            status="Accepted" if result.accepted else "Rejected",
            status_info=status_info,
        )

    @on("Heartbeat")
    async def on_heartbeat(self, **_: Any) -> Any:
        at = await self.bridge.run(self._heartbeat, None)
        return self._call_result.Heartbeat(current_time=iso(at))

    def _heartbeat(self, _: None) -> Any:
        return self.service.heartbeat(self.station_id, self.bridge.now())

    @on("StatusNotification")
    async def on_status(
        self, timestamp: str, connector_status: str, evse_id: int, connector_id: int, **_: Any
    ) -> Any:
        cmd = ConnectorStatusChanged(
            station_id=self.station_id,
            evse_id=evse_id,
            connector_id=connector_id,
            status=connector_status,
            at=parse_time(timestamp, "timestamp"),
        )
        await self.bridge.run(self.service.connector_status, cmd)
        return self._call_result.StatusNotification()

    @on("Authorize")
    async def on_authorize(self, id_token: dict[str, Any], **_: Any) -> Any:
        return self._call_result.Authorize(id_token_info=await self._authorize(id_token))

    async def _authorize(self, raw: dict[str, Any]) -> dict[str, Any]:
        token = id_token(raw)
        if token is None:  # 2.1 allows token types (VIN, DirectPayment, …) we do not know
            log.info("ocpp.unknown_token_type station=%s type=%s", self.station_id, raw["type"])
            return id_token_info(_UNKNOWN_TOKEN)
        result = await self.bridge.run(
            self.service.authorize, Authorize(self.station_id, token, self.bridge.now())
        )
        return id_token_info(result)

    @on("TransactionEvent")
    async def on_transaction_event(
        self,
        event_type: str,
        timestamp: str,
        trigger_reason: str,
        seq_no: int,
        transaction_info: dict[str, Any],
        **kw: Any,
    ) -> Any:
        at = parse_time(timestamp, "timestamp")
        values = readings(kw.get("meter_value"), "meterValue")
        if event_type == "Started":
            info = await self._started(at, seq_no, transaction_info, values, kw)
            return self._call_result.TransactionEvent(id_token_info=info)
        if event_type == "Ended":
            info = await self._ended(at, seq_no, trigger_reason, transaction_info, values, kw)
            return self._call_result.TransactionEvent(id_token_info=info)
        cmd = RecordMeterValues(
            station_id=self.station_id,
            evse_id=(kw.get("evse") or {}).get("id", 0),  # 0: the service knows the tx
            transaction_id=transaction_info["transaction_id"],
            readings=values,
            charging_state=_charging_state(transaction_info),
            seq_no=seq_no,
            trigger_reason=trigger_reason,
        )
        recorded = await self.bridge.meter_values(cmd)
        info = await self._authorize(kw["id_token"]) if kw.get("id_token") else None
        cost = recorded.total_cost
        return self._call_result.TransactionEvent(
            # JSON has only binary numbers; the cost has a few decimals, which float keeps.
            total_cost=float(cost) if cost is not None else None,
            id_token_info=info,
        )

    async def _started(
        self, at: Any, seq_no: int, tx: dict[str, Any], values: Any, kw: dict[str, Any]
    ) -> dict[str, Any] | None:
        evse = kw.get("evse") or {}
        token = id_token(kw.get("id_token"))
        cmd = StartSession(
            station_id=self.station_id,
            evse_id=evse.get("id", 0),
            connector_id=evse.get("connector_id", 1),
            id_token=token,
            meter_start_wh=readings_energy(values, ReadingContext.TRANSACTION_BEGIN),
            started_at=at,
            transaction_ref=tx["transaction_id"],
            reservation_id=kw.get("reservation_id"),
            readings=values,
            charging_state=_charging_state(tx),
            seq_no=seq_no,
        )
        result = await self.bridge.run(self.service.start, cmd)
        if kw.get("id_token") is None:
            return None
        return id_token_info(result.authorization if token else _UNKNOWN_TOKEN)

    async def _ended(
        self,
        at: Any,
        seq_no: int,
        trigger_reason: str,
        tx: dict[str, Any],
        values: Any,
        kw: dict[str, Any],
    ) -> dict[str, Any] | None:
        evse = kw.get("evse") or {}
        token = id_token(kw.get("id_token"))
        cmd = StopSession(
            station_id=self.station_id,
            transaction_id=tx["transaction_id"],
            stopped_at=at,
            meter_stop_wh=readings_energy(values, ReadingContext.TRANSACTION_END),
            reason=tx.get("stopped_reason"),
            id_token=token,
            readings=values,
            seq_no=seq_no,
            trigger_reason=trigger_reason,
            evse_id=evse.get("id"),
            connector_id=evse.get("connector_id"),
        )
        result = await self.bridge.run(self.service.stop, cmd)
        if kw.get("id_token") is None or result.authorization is None:
            return None
        return id_token_info(result.authorization if token else _UNKNOWN_TOKEN)

    @on("MeterValues")
    async def on_meter_values(self, evse_id: int, meter_value: list[Any], **_: Any) -> Any:
        cmd = RecordMeterValues(
            station_id=self.station_id,
            evse_id=evse_id,
            transaction_id=None,
            readings=readings(meter_value, "meterValue"),
        )
        await self.bridge.meter_values(cmd)
        return self._call_result.MeterValues()

    @on("DataTransfer")
    async def on_data_transfer(self, vendor_id: str, **kw: Any) -> Any:
        status, data = await self.data_transfer_answer(
            vendor_id, kw.get("message_id"), kw.get("data")
        )
        return self._call_result.DataTransfer(status=status, data=data)

    @on("FirmwareStatusNotification")
    async def on_firmware_status(self, status: str, **_: Any) -> Any:
        log.info("ocpp.firmware_status station=%s status=%s", self.station_id, status)
        return self._call_result.FirmwareStatusNotification()

    # --- operator commands ---------------------------------------------------------------

    async def remote_start(
        self, evse_id: int, id_token: IdToken, remote_start_id: int
    ) -> RemoteCommandResult:
        answer = await self.send_call(
            self._call.RequestStartTransaction(
                id_token={"id_token": id_token.value, "type": id_token.type.value},
                remote_start_id=remote_start_id,
                evse_id=evse_id,
            )
        )
        return RemoteCommandResult(
            status=str(answer.status),
            transaction_id=answer.transaction_id,
            reason=_status_reason(answer.status_info),
        )

    async def remote_stop(self, transaction_id: str) -> RemoteCommandResult:
        answer = await self.send_call(
            self._call.RequestStopTransaction(transaction_id=transaction_id)
        )
        return RemoteCommandResult(
            status=str(answer.status), reason=_status_reason(answer.status_info)
        )


def _status_reason(status_info: dict[str, Any] | None) -> str | None:
    if not status_info:
        return None
    return str(status_info.get("reason_code"))
