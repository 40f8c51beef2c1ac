"""OCPP 1.6J adapter: 1.6 messages → session commands, results → 1.6 answers.

1.6 has no EVSEs: a connectorId is the EVSE (`evse_id`) with its one connector (`1`);
connectorId 0 is the whole station. idTags are RFID (ISO14443) tokens.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from ocpp.v16 import call, call_result
from ocpp.v16.datatypes import IdTagInfo
from ocpp.v16.enums import Action

from evbill.ocpp.rpc import RemoteCommandResult, StationConnection, on
from evbill.ocpp.translate import (
    authorization_status,
    decimal_field,
    iso,
    parse_time,
    reading_from_samples,
    readings,
)
from evbill.sessions.commands import (
    AuthorizationResult,
    Authorize,
    BootStation,
    ConnectorStatusChanged,
    IdToken,
    RecordMeterValues,
    StartSession,
    StopSession,
)

__all__ = ["V16Station"]

log = logging.getLogger("evbill.ocpp")

_STATUSES = frozenset({"Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx"})


def _id_tag_info(result: AuthorizationResult) -> IdTagInfo:
    return IdTagInfo(
        status=authorization_status(result.status, _STATUSES),
        expiry_date=iso(result.expires_at) if result.expires_at else None,
        parent_id_tag=result.group_id[:20] if result.group_id else None,
    )


def _connector(connector_id: int) -> int:
    return 1 if connector_id > 0 else 0


class V16Station(StationConnection):
    """A station speaking OCPP 1.6J."""

    version = "1.6"
    protocol = "ocpp1.6"
    known_actions = frozenset(a.value for a in Action)
    _call = call
    _call_result = call_result
    _ocpp_version = "1.6"

    @on(Action.boot_notification)
    async def on_boot(
        self, charge_point_vendor: str, charge_point_model: str, **kw: Any
    ) -> call_result.BootNotification:
        result = await self.bridge.run(
            self.service.boot,
            BootStation(
                station_id=self.station_id,
                protocol=self.protocol,
                vendor=charge_point_vendor,
                model=charge_point_model,
                at=self.bridge.now(),
                serial_number=kw.get("charge_point_serial_number")
                or kw.get("charge_box_serial_number"),
                firmware_version=kw.get("firmware_version"),
            ),
        )
        return call_result.BootNotification(
            current_time=iso(result.at),
            interval=result.heartbeat_interval_s,
            status="Accepted" if result.accepted else "Rejected",
        )

    @on(Action.heartbeat)
    async def on_heartbeat(self, **_: Any) -> call_result.Heartbeat:
        at = await self.bridge.run(self._heartbeat, None)
        return call_result.Heartbeat(current_time=iso(at))

    def _heartbeat(self, _: None) -> Any:
        return self.service.heartbeat(self.station_id, self.bridge.now())

    @on(Action.status_notification)
    async def on_status(
        self, connector_id: int, error_code: str, status: str, **kw: Any
    ) -> call_result.StatusNotification:
        timestamp = kw.get("timestamp")
        cmd = ConnectorStatusChanged(
            station_id=self.station_id,
            evse_id=connector_id,
            connector_id=_connector(connector_id),
            status=status,
            at=parse_time(timestamp, "timestamp") if timestamp else self.bridge.now(),
            error_code=None if error_code == "NoError" else error_code,
        )
        await self.bridge.run(self.service.connector_status, cmd)
        return call_result.StatusNotification()

    @on(Action.authorize)
    async def on_authorize(self, id_tag: str, **_: Any) -> call_result.Authorize:
        cmd = Authorize(self.station_id, IdToken(id_tag), self.bridge.now())
        result = await self.bridge.run(self.service.authorize, cmd)
        return call_result.Authorize(id_tag_info=_id_tag_info(result))

    @on(Action.start_transaction)
    async def on_start(
        self, connector_id: int, id_tag: str, meter_start: int, timestamp: str, **kw: Any
    ) -> call_result.StartTransaction:
        cmd = StartSession(
            station_id=self.station_id,
            evse_id=connector_id,
            connector_id=_connector(connector_id),
            id_token=IdToken(id_tag),
            meter_start_wh=Decimal(meter_start),
            started_at=parse_time(timestamp, "timestamp"),
            reservation_id=kw.get("reservation_id"),
        )
        result = await self.bridge.run(self.service.start, cmd)
        return call_result.StartTransaction(
            transaction_id=int(result.transaction_id),
            id_tag_info=_id_tag_info(result.authorization),
        )

    @on(Action.stop_transaction)
    async def on_stop(
        self, meter_stop: int, timestamp: str, transaction_id: int, **kw: Any
    ) -> call_result.StopTransaction:
        id_tag = kw.get("id_tag")
        cmd = StopSession(
            station_id=self.station_id,
            transaction_id=str(transaction_id),
            stopped_at=parse_time(timestamp, "timestamp"),
            meter_stop_wh=Decimal(meter_stop),
            reason=kw.get("reason"),
            id_token=IdToken(id_tag) if id_tag else None,
            readings=readings(kw.get("transaction_data"), "transactionData"),
        )
        result = await self.bridge.run(self.service.stop, cmd)
        info = _id_tag_info(result.authorization) if result.authorization and id_tag else None
        return call_result.StopTransaction(id_tag_info=info)

    @on(Action.meter_values)
    async def on_meter_values(
        self, connector_id: int, meter_value: list[dict[str, Any]], **kw: Any
    ) -> call_result.MeterValues:
        transaction_id = kw.get("transaction_id")
        values = tuple(
            reading_from_samples(
                parse_time(mv["timestamp"], f"meterValue[{i}].timestamp"),
                mv["sampled_value"],
                f"meterValue[{i}]",
            )
            for i, mv in enumerate(meter_value)
        )
        cmd = RecordMeterValues(
            station_id=self.station_id,
            evse_id=connector_id,
            transaction_id=None if transaction_id is None else str(transaction_id),
            readings=values,
        )
        await self.bridge.meter_values(cmd)
        return call_result.MeterValues()

    @on(Action.data_transfer)
    async def on_data_transfer(self, vendor_id: str, **kw: Any) -> call_result.DataTransfer:
        status, data = await self.data_transfer_answer(
            vendor_id, kw.get("message_id"), kw.get("data")
        )
        return call_result.DataTransfer(status=status, data=data)

    # Notifications with nothing to bill: acknowledged and logged so the station moves on.
    @on(Action.firmware_status_notification)
    async def on_firmware_status(self, status: str, **_: Any) -> Any:
        log.info("ocpp.firmware_status station=%s status=%s", self.station_id, status)
        return call_result.FirmwareStatusNotification()

    @on(Action.diagnostics_status_notification)
    async def on_diagnostics_status(self, status: str, **_: Any) -> Any:
        log.info("ocpp.diagnostics_status station=%s status=%s", self.station_id, status)
        return call_result.DiagnosticsStatusNotification()

    # --- operator commands ---------------------------------------------------------------

    async def remote_start(
        self, evse_id: int, id_token: IdToken, remote_start_id: int
    ) -> RemoteCommandResult:
        answer = await self.send_call(
            call.RemoteStartTransaction(id_tag=id_token.value, connector_id=evse_id)
        )
        return RemoteCommandResult(status=str(answer.status))

    async def remote_stop(self, transaction_id: str) -> RemoteCommandResult:
        tx = int(decimal_field(transaction_id, "transaction_id"))
        answer = await self.send_call(call.RemoteStopTransaction(transaction_id=tx))
        return RemoteCommandResult(status=str(answer.status))
