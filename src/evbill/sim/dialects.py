"""What a simulated station says in each OCPP version: request payloads and reply parsing.

One dialect per version (1.6J, 2.0.1, 2.1) behind the same methods, so the station logic is
written once. Payloads are the `ocpp` library's call dataclasses with camelCase nested dicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final, Protocol

from ocpp.v16 import call as v16_call
from ocpp.v21 import call as v21_call
from ocpp.v201 import call as v201_call

from evbill.sessions.commands import ChargingState, ReadingContext
from evbill.sim.clock import ocpp_timestamp

__all__ = [
    "DIALECTS",
    "ConnectorState",
    "Dialect",
    "Sample",
    "SignedValue",
    "StopReason",
    "Transaction",
    "dialect_for",
]


class ConnectorState(StrEnum):
    """Connector status in 1.6 words; 2.x folds everything in use into Occupied."""

    AVAILABLE = "Available"
    PREPARING = "Preparing"
    CHARGING = "Charging"
    SUSPENDED_EV = "SuspendedEV"
    FINISHING = "Finishing"


class StopReason(StrEnum):
    """Why a transaction ended; the values are valid in 1.6 Reason and 2.x ReasonEnumType."""

    LOCAL = "Local"
    REMOTE = "Remote"
    EV_DISCONNECTED = "EVDisconnected"
    DEAUTHORIZED = "DeAuthorized"
    OTHER = "Other"


_STOP_TRIGGER: Final = {
    StopReason.LOCAL: "StopAuthorized",
    StopReason.REMOTE: "RemoteStop",
    StopReason.EV_DISCONNECTED: "EVDeparted",
    StopReason.DEAUTHORIZED: "Deauthorized",
    StopReason.OTHER: "AbnormalCondition",
}


@dataclass(frozen=True, slots=True)
class SignedValue:
    """A signed meter reading as the meter produced it (an OCMF string), with its key."""

    data: str
    public_key: str | None = None  # as the station reports it (hex DER for OCMF meters)
    signing_method: str = "ECDSA-secp256r1-SHA256"
    encoding: str = "OCMF"


@dataclass(frozen=True, slots=True)
class Sample:
    """One meter reading: cumulative register in whole Wh, power, current, state of charge."""

    at: datetime
    energy_wh: int
    power_w: Decimal
    current_a: Decimal
    soc_percent: Decimal | None
    context: ReadingContext = ReadingContext.SAMPLE_PERIODIC
    signed: SignedValue | None = None
    #: The register to 0.01 Wh, for firmware that reports decimal Wh in its samples (the
    #: 1.6 meterStart/meterStop stay whole Wh, as the protocol's integers must).
    energy_decimal_wh: Decimal | None = None

    @property
    def register_text(self) -> str:
        if self.energy_decimal_wh is not None:
            return f"{self.energy_decimal_wh:f}"
        return str(self.energy_wh)


@dataclass(slots=True)
class Transaction:
    """A transaction as the station tracks it; 1.6 learns `transaction_id` from the CSMS."""

    evse_id: int
    connector_id: int
    id_tag: str
    ref: str  # the station's own id (2.x transactionId; 1.6 local reference)
    id_token_type: str = "ISO14443"
    remote_start_id: int | None = None
    transaction_id: str | None = None
    seq_no: int = 0
    sent_messages: list[str] = field(default_factory=list)

    def next_seq(self) -> int:
        seq = self.seq_no
        self.seq_no += 1
        return seq


class Dialect(Protocol):
    """The same station behaviour, spoken in one OCPP version."""

    version: str  # "1.6" | "2.0.1" | "2.1"
    subprotocol: str  # "ocpp1.6" | …

    def boot(self, vendor: str, model: str, serial: str, firmware: str) -> Any: ...

    def heartbeat(self) -> Any: ...

    def status(self, evse_id: int, connector_id: int, state: ConnectorState,
               at: datetime) -> Any: ...

    def authorize(self, id_tag: str) -> Any: ...

    def authorization_status(self, reply: Any) -> str: ...

    def start(self, tx: Transaction, sample: Sample, offline: bool) -> Any: ...

    def started(self, tx: Transaction, reply: Any) -> str: ...

    def meter(self, tx: Transaction, sample: Sample, state: ChargingState, trigger: str,
              offline: bool) -> Any: ...

    def stop(self, tx: Transaction, sample: Sample, reason: StopReason, offline: bool) -> Any: ...


def _v16_values(sample: Sample) -> list[dict[str, Any]]:
    ctx = sample.context.value
    values: list[dict[str, Any]] = [
        {"value": sample.register_text, "context": ctx, "format": "Raw",
         "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        {"value": f"{sample.power_w:f}", "context": ctx, "format": "Raw",
         "measurand": "Power.Active.Import", "unit": "W"},
        {"value": f"{sample.current_a:f}", "context": ctx, "format": "Raw",
         "measurand": "Current.Import", "unit": "A"},
    ]
    if sample.soc_percent is not None:
        values.append({"value": f"{sample.soc_percent:f}", "context": ctx, "format": "Raw",
                       "measurand": "SoC", "unit": "Percent"})
    if sample.signed is not None:
        values.append({"value": sample.signed.data, "context": ctx, "format": "SignedData",
                       "measurand": "Energy.Active.Import.Register", "unit": "Wh"})
    return values


def _v16_meter_value(sample: Sample) -> dict[str, Any]:
    return {"timestamp": ocpp_timestamp(sample.at), "sampledValue": _v16_values(sample)}


class V16Dialect:
    """OCPP 1.6J: StartTransaction / MeterValues / StopTransaction; the CSMS issues ids."""

    version = "1.6"
    subprotocol = "ocpp1.6"

    def boot(self, vendor: str, model: str, serial: str, firmware: str) -> Any:
        return v16_call.BootNotification(
            charge_point_model=model, charge_point_vendor=vendor,
            charge_point_serial_number=serial, firmware_version=firmware,
        )

    def heartbeat(self) -> Any:
        return v16_call.Heartbeat()

    def status(self, evse_id: int, connector_id: int, state: ConnectorState,
               at: datetime) -> Any:
        return v16_call.StatusNotification(
            connector_id=evse_id, error_code="NoError", status=state.value,
            timestamp=ocpp_timestamp(at),
        )

    def authorize(self, id_tag: str) -> Any:
        return v16_call.Authorize(id_tag=id_tag)

    def authorization_status(self, reply: Any) -> str:
        return str(reply.id_tag_info["status"])

    def start(self, tx: Transaction, sample: Sample, offline: bool) -> Any:
        return v16_call.StartTransaction(
            connector_id=tx.evse_id, id_tag=tx.id_tag, meter_start=sample.energy_wh,
            timestamp=ocpp_timestamp(sample.at),
        )

    def started(self, tx: Transaction, reply: Any) -> str:
        tx.transaction_id = str(reply.transaction_id)
        return str(reply.id_tag_info["status"])

    def meter(self, tx: Transaction, sample: Sample, state: ChargingState, trigger: str,
              offline: bool) -> Any:
        return v16_call.MeterValues(
            connector_id=tx.evse_id, meter_value=[_v16_meter_value(sample)],
            transaction_id=_v16_tx_id(tx),
        )

    def stop(self, tx: Transaction, sample: Sample, reason: StopReason, offline: bool) -> Any:
        return v16_call.StopTransaction(
            meter_stop=sample.energy_wh, timestamp=ocpp_timestamp(sample.at),
            transaction_id=_v16_tx_id(tx), reason=reason.value, id_tag=tx.id_tag,
            transaction_data=[_v16_meter_value(sample)],
        )


def _v16_tx_id(tx: Transaction) -> int:
    if tx.transaction_id is None:
        raise LookupError(f"transaction {tx.ref}: the CSMS has not assigned a transactionId yet")
    return int(tx.transaction_id)


def _v2_values(sample: Sample) -> list[dict[str, Any]]:
    ctx = sample.context.value
    energy: dict[str, Any] = {
        "value": sample.energy_decimal_wh if sample.energy_decimal_wh is not None
        else sample.energy_wh, "context": ctx,
        "measurand": "Energy.Active.Import.Register", "unitOfMeasure": {"unit": "Wh"},
    }
    if sample.signed is not None:
        signed: dict[str, Any] = {
            "signedMeterData": sample.signed.data, "signingMethod": sample.signed.signing_method,
            "encodingMethod": sample.signed.encoding, "publicKey": sample.signed.public_key or "",
        }
        energy["signedMeterValue"] = signed
    values = [
        energy,
        {"value": sample.power_w, "context": ctx, "measurand": "Power.Active.Import",
         "unitOfMeasure": {"unit": "W"}},
        {"value": sample.current_a, "context": ctx, "measurand": "Current.Import",
         "unitOfMeasure": {"unit": "A"}},
    ]
    if sample.soc_percent is not None:
        values.append({"value": sample.soc_percent, "context": ctx, "measurand": "SoC",
                       "unitOfMeasure": {"unit": "Percent"}})
    return values


class V2Dialect:
    """OCPP 2.0.1 and 2.1: every transaction message is a TransactionEvent with a seqNo."""

    def __init__(self, version: str, module: Any) -> None:
        self.version = version
        self.subprotocol = f"ocpp{version}"
        self._call = module

    def boot(self, vendor: str, model: str, serial: str, firmware: str) -> Any:
        station = {"model": model, "vendorName": vendor, "serialNumber": serial,
                   "firmwareVersion": firmware}
        return self._call.BootNotification(charging_station=station, reason="PowerUp")

    def heartbeat(self) -> Any:
        return self._call.Heartbeat()

    def status(self, evse_id: int, connector_id: int, state: ConnectorState,
               at: datetime) -> Any:
        status = "Available" if state is ConnectorState.AVAILABLE else "Occupied"
        return self._call.StatusNotification(
            timestamp=ocpp_timestamp(at), connector_status=status, evse_id=evse_id,
            connector_id=connector_id,
        )

    def authorize(self, id_tag: str) -> Any:
        return self._call.Authorize(id_token={"idToken": id_tag, "type": "ISO14443"})

    def authorization_status(self, reply: Any) -> str:
        return str(reply.id_token_info["status"])

    def _event(self, tx: Transaction, event_type: str, trigger: str, sample: Sample,
               info: dict[str, Any], offline: bool, **extra: Any) -> Any:
        return self._call.TransactionEvent(
            event_type=event_type, timestamp=ocpp_timestamp(sample.at), trigger_reason=trigger,
            seq_no=tx.next_seq(), transaction_info={"transactionId": tx.ref, **info},
            meter_value=[{"timestamp": ocpp_timestamp(sample.at),
                          "sampledValue": _v2_values(sample)}],
            offline=offline, **extra,
        )

    def start(self, tx: Transaction, sample: Sample, offline: bool) -> Any:
        info: dict[str, Any] = {"chargingState": ChargingState.CHARGING.value}
        trigger = "Authorized"
        if tx.remote_start_id is not None:
            info["remoteStartId"] = tx.remote_start_id
            trigger = "RemoteStart"
        return self._event(
            tx, "Started", trigger, sample, info, offline,
            evse={"id": tx.evse_id, "connectorId": tx.connector_id},
            id_token={"idToken": tx.id_tag, "type": tx.id_token_type},
        )

    def started(self, tx: Transaction, reply: Any) -> str:
        tx.transaction_id = tx.ref
        token_info = reply.id_token_info
        return "Accepted" if token_info is None else str(token_info["status"])

    def meter(self, tx: Transaction, sample: Sample, state: ChargingState, trigger: str,
              offline: bool) -> Any:
        return self._event(tx, "Updated", trigger, sample, {"chargingState": state.value},
                           offline)

    def stop(self, tx: Transaction, sample: Sample, reason: StopReason, offline: bool) -> Any:
        info = {"chargingState": ChargingState.EV_CONNECTED.value, "stoppedReason": reason.value}
        return self._event(tx, "Ended", _STOP_TRIGGER[reason], sample, info, offline,
                           id_token={"idToken": tx.id_tag, "type": tx.id_token_type})


DIALECTS: Final[dict[str, Dialect]] = {
    "1.6": V16Dialect(),
    "2.0.1": V2Dialect("2.0.1", v201_call),
    "2.1": V2Dialect("2.1", v21_call),
}


class UnknownProtocol(ValueError):
    """An OCPP version the simulator does not speak."""


def dialect_for(version: str) -> Dialect:
    """The dialect for "1.6", "2.0.1" or "2.1" (an "ocpp" prefix is accepted)."""
    key = version.removeprefix("ocpp")
    try:
        return DIALECTS[key]
    except KeyError:
        raise UnknownProtocol(
            f"protocol: {version!r} is not one of {', '.join(DIALECTS)}"
        ) from None


__all__ += ["UnknownProtocol"]
