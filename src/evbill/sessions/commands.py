"""Domain commands and results between the OCPP adapters (and the API) and the session service.

This is the contract: every OCPP version's adapter turns protocol messages into these values and
nothing else, and turns the results back into protocol answers. No OCPP type crosses it.

Every command that can arrive twice carries what makes it unique (`dedup_key`): the service
answers a repeat with the first answer and changes nothing.

Changes (sessions service owner): `RecordMeterValues.dedup_key` and `StopSession.dedup_key`
added; `SessionDetail`/`SampleView`/`CdrView` read models added beside `SessionView`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol


class IdTokenType(StrEnum):
    """OCPP 2.0.1 IdTokenEnumType (1.6 idTags arrive as ISO14443)."""

    CENTRAL = "Central"
    EMAID = "eMAID"  # Plug & Charge contract id
    ISO14443 = "ISO14443"  # RFID (MIFARE)
    ISO15693 = "ISO15693"
    KEY_CODE = "KeyCode"
    LOCAL = "Local"
    MAC_ADDRESS = "MacAddress"  # Autocharge: the car's MAC address
    NO_AUTHORIZATION = "NoAuthorization"


class AuthorizationStatus(StrEnum):
    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    CONCURRENT_TX = "ConcurrentTx"
    UNKNOWN = "Unknown"


class ChargingState(StrEnum):
    """What the car is doing on the connector (OCPP 2.0.1 ChargingStateEnumType)."""

    CHARGING = "Charging"
    SUSPENDED_EV = "SuspendedEV"
    SUSPENDED_EVSE = "SuspendedEVSE"
    EV_CONNECTED = "EVConnected"  # parked: connected, not charging
    IDLE = "Idle"


class ReadingContext(StrEnum):
    """OCPP ReadingContext: where in the transaction a sample was taken."""

    TRANSACTION_BEGIN = "Transaction.Begin"
    TRANSACTION_END = "Transaction.End"
    SAMPLE_PERIODIC = "Sample.Periodic"
    SAMPLE_CLOCK = "Sample.Clock"
    INTERRUPTION_BEGIN = "Interruption.Begin"
    INTERRUPTION_END = "Interruption.End"
    TRIGGER = "Trigger"
    OTHER = "Other"


@dataclass(frozen=True, slots=True)
class IdToken:
    value: str
    type: IdTokenType = IdTokenType.ISO14443


@dataclass(frozen=True, slots=True)
class SignedReading:
    """Signed meter data exactly as the station sent it (OCMF or another format)."""

    signed_data: str  # e.g. "OCMF|{...}|{...}", verbatim
    encoding: str = "OCMF"  # signingMethod / format as reported by the station
    public_key: str | None = None  # hex/base64 as reported, if the station sends it
    context: ReadingContext = ReadingContext.SAMPLE_PERIODIC


@dataclass(frozen=True, slots=True)
class MeterReading:
    """One timestamped sample. Energy is the cumulative import register in Wh."""

    at: datetime  # timezone-aware, UTC
    energy_wh: Decimal | None = None
    power_w: Decimal | None = None
    current_a: Decimal | None = None
    soc_percent: Decimal | None = None
    context: ReadingContext = ReadingContext.SAMPLE_PERIODIC
    signed: SignedReading | None = None


# --- station lifecycle ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BootStation:
    station_id: str
    protocol: str  # "ocpp1.6" | "ocpp2.0.1" | "ocpp2.1"
    vendor: str
    model: str
    at: datetime
    serial_number: str | None = None
    firmware_version: str | None = None


@dataclass(frozen=True, slots=True)
class BootResult:
    accepted: bool
    heartbeat_interval_s: int
    at: datetime  # the CSMS's current time, for the station's clock
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ConnectorStatusChanged:
    station_id: str
    evse_id: int  # 1.6: connectorId (0 = the whole station)
    connector_id: int
    status: str  # Available, Occupied/Preparing/Charging/…, Faulted, Unavailable, …
    at: datetime
    error_code: str | None = None


# --- authorization -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Authorize:
    station_id: str
    id_token: IdToken
    at: datetime


@dataclass(frozen=True, slots=True)
class AuthorizationResult:
    status: AuthorizationStatus
    group_id: str | None = None
    expires_at: datetime | None = None
    reason: str | None = None  # shown to the driver/station where the protocol allows


# --- transactions --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StartSession:
    """A transaction started on an EVSE (1.6 StartTransaction; 2.x TransactionEvent Started).

    `transaction_ref` is the station's own id for 2.x; for 1.6 it is None and the service
    issues the integer transactionId.
    """

    station_id: str
    evse_id: int
    connector_id: int
    id_token: IdToken | None
    meter_start_wh: Decimal | None
    started_at: datetime
    transaction_ref: str | None = None
    reservation_id: int | None = None
    readings: tuple[MeterReading, ...] = ()
    charging_state: ChargingState | None = None
    seq_no: int | None = None  # 2.x

    @property
    def dedup_key(self) -> str:
        if self.transaction_ref is not None:
            return f"{self.station_id}|tx|{self.transaction_ref}|start"
        token = self.id_token.value if self.id_token else ""
        return (
            f"{self.station_id}|start|{self.connector_id}|{token}|"
            f"{self.started_at.isoformat()}|{self.meter_start_wh}"
        )


@dataclass(frozen=True, slots=True)
class StartResult:
    transaction_id: str  # 1.6: the decimal string of the integer transactionId
    authorization: AuthorizationResult


@dataclass(frozen=True, slots=True)
class RecordMeterValues:
    """Samples for a running (or, sent late, finished) transaction.

    1.6 MeterValues may come without transactionId (then `transaction_id` is None and the
    service attaches them to the EVSE's session covering their time, if any).
    """

    station_id: str
    evse_id: int
    transaction_id: str | None
    readings: tuple[MeterReading, ...]
    charging_state: ChargingState | None = None
    seq_no: int | None = None  # 2.x TransactionEvent seqNo
    trigger_reason: str | None = None  # 2.x TriggerReasonEnumType, kept for the audit trail

    @property
    def dedup_key(self) -> str:
        if self.seq_no is not None and self.transaction_id is not None:
            return f"{self.station_id}|tx|{self.transaction_id}|seq|{self.seq_no}"
        digest = hashlib.sha256(repr(self.readings).encode("utf-8")).hexdigest()[:32]
        return f"{self.station_id}|mv|{self.evse_id}|{self.transaction_id or ''}|{digest}"


@dataclass(frozen=True, slots=True)
class StopSession:
    """A transaction ended (1.6 StopTransaction; 2.x TransactionEvent Ended)."""

    station_id: str
    transaction_id: str
    stopped_at: datetime
    meter_stop_wh: Decimal | None
    reason: str | None = None  # StopTransaction reason / stoppedReason
    id_token: IdToken | None = None
    readings: tuple[MeterReading, ...] = ()
    seq_no: int | None = None
    trigger_reason: str | None = None
    # 1.6 stop with no start ever received: the adapter passes what the stop carries.
    evse_id: int | None = None
    connector_id: int | None = None
    meter_start_wh: Decimal | None = None

    @property
    def dedup_key(self) -> str:
        # One stop per transaction: a re-sent stop (any seqNo) gets the first answer.
        return f"{self.station_id}|tx|{self.transaction_id}|stop"


@dataclass(frozen=True, slots=True)
class StopResult:
    transaction_id: str
    authorization: AuthorizationResult | None = None


@dataclass(frozen=True, slots=True)
class TransactionEventRecorded:
    """The answer to any 2.x TransactionEvent (the service's view of the transaction)."""

    transaction_id: str
    authorization: AuthorizationResult | None = None
    total_cost: Decimal | None = None  # running cost so far, in the tariff's currency
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class SessionView:
    """A read model of one session for the operator, the CLI and the API."""

    session_id: str
    station_id: str
    evse_id: int
    transaction_id: str
    state: str
    started_at: datetime
    stopped_at: datetime | None
    energy_wh: Decimal
    id_token: str | None
    flags: tuple[str, ...] = field(default_factory=tuple)
    total_cost_incl_vat: Decimal | None = None
    currency: str | None = None
    hold_reason: str | None = None  # why a `held` session waits for an operator


@dataclass(frozen=True, slots=True)
class SampleView:
    """One stored meter sample of a session (in time order in `SessionDetail.samples`)."""

    at: datetime
    context: str
    energy_wh: Decimal | None
    power_w: Decimal | None = None
    current_a: Decimal | None = None
    soc_percent: Decimal | None = None
    in_session: bool = True  # False: kept, but after the stop (or before the start)


@dataclass(frozen=True, slots=True)
class CdrView:
    cdr_id: str
    currency: str
    total_cost_excl_vat: Decimal
    total_cost_incl_vat: Decimal | None
    total_energy_wh: Decimal
    energy_source: str  # "meter" or "signed" (the OCMF begin/end difference)
    ocpi: str  # the OCPI CDR JSON as stored


@dataclass(frozen=True, slots=True)
class SessionDetail:
    """One session with its samples, signed meter data (verbatim) and CDR."""

    session: SessionView
    samples: tuple[SampleView, ...]
    signed_data: tuple[str, ...]
    cdr: CdrView | None
    review_note: str | None = None


class SessionCommands(Protocol):
    """What the gateway calls. Implemented by `evbill.sessions.service.SessionService`.

    Every method is one unit of work (one database transaction) and is idempotent.
    """

    def boot(self, cmd: BootStation) -> BootResult: ...

    def heartbeat(self, station_id: str, at: datetime) -> datetime: ...

    def connector_status(self, cmd: ConnectorStatusChanged) -> None: ...

    def authorize(self, cmd: Authorize) -> AuthorizationResult: ...

    def start(self, cmd: StartSession) -> StartResult: ...

    def meter_values(self, cmd: RecordMeterValues) -> TransactionEventRecorded: ...

    def stop(self, cmd: StopSession) -> StopResult: ...

    def station_connected(self, station_id: str, at: datetime) -> None: ...

    def station_disconnected(self, station_id: str, at: datetime) -> None: ...
