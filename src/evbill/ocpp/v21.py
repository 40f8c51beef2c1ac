"""OCPP 2.1 adapter: the 2.0.1 translations with 2.1's message classes and JSON schemas.

What 2.1 changes for the messages we handle is accepted by its schemas: idToken types are
free strings (unknown ones are answered `Unknown`), longer signed meter data, more trigger
reasons, and the extra RPC message types CALLRESULTERROR (5) and SEND (6), never answered.
2.1 adds payment at the station's own terminal: `NotifySettlement` becomes a
`StationSettlement` command, recorded and reconciled by the session service's payment hooks.
"""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from typing import Any

from ocpp.exceptions import PropertyConstraintViolationError
from ocpp.v21 import call, call_result
from ocpp.v21.enums import Action

from evbill.ocpp.rpc import on
from evbill.ocpp.translate import parse_time
from evbill.ocpp.v201 import V201Station
from evbill.sessions.hooks import SettlementRecorded, StationSettlement

__all__ = ["V21Station", "settlement_command"]

log = logging.getLogger("evbill.ocpp")


def settlement_command(station_id: str, payload: dict[str, Any]) -> StationSettlement:
    """NotifySettlementRequest (snake_case keys) → the domain command."""
    try:
        amount = Decimal(str(payload["settlement_amount"]))
    except (InvalidOperation, KeyError):
        raise PropertyConstraintViolationError(
            details={"cause": "settlementAmount: not a number"}) from None
    return StationSettlement(
        station_id=station_id, psp_ref=str(payload["psp_ref"]), status=str(payload["status"]),
        amount=amount, settled_at=parse_time(payload["settlement_time"], "settlementTime"),
        transaction_id=payload.get("transaction_id"), receipt_id=payload.get("receipt_id"),
        status_info=payload.get("status_info"))


class V21Station(V201Station):
    """A station speaking OCPP 2.1."""

    version = "2.1"
    protocol = "ocpp2.1"
    known_actions = frozenset(a.value for a in Action)
    _call = call
    _call_result = call_result
    _ocpp_version = "2.1"

    @on("NotifySettlement")
    async def on_notify_settlement(self, **payload: Any) -> Any:
        cmd = settlement_command(self.station_id, payload)
        record = getattr(self.service, "record_settlement", None)
        if record is None:  # a session service without payment hooks
            log.warning("ocpp.settlement_unhandled station=%s psp_ref=%s", self.station_id,
                        cmd.psp_ref)
            return self._call_result.NotifySettlement()
        result: SettlementRecorded = await self.bridge.run(record, cmd)
        log.info("ocpp.settlement station=%s psp_ref=%s reconciled=%s duplicate=%s",
                 self.station_id, cmd.psp_ref, result.reconciled, result.duplicate)
        return self._call_result.NotifySettlement(receipt_id=cmd.receipt_id)
