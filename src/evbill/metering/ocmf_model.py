"""OCMF values: the frozen dataclasses, code lists and errors of the Open Charge Metering Format.

Attribute names say what a field is; the comment beside each names its OCMF key (FV, GI, …)
exactly as the S.A.F.E. specification spells it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

__all__ = [
    "ChargePoint",
    "GatewayInfo",
    "Identification",
    "LossCompensation",
    "MeterIdentity",
    "MeterStatus",
    "OcmfDocument",
    "OcmfError",
    "OcmfFormatError",
    "OcmfKeyError",
    "OcmfPayload",
    "OcmfSignature",
    "OcmfSignatureError",
    "OcmfUnsupportedAlgorithm",
    "Pagination",
    "Reading",
    "ReadingTime",
    "TimeSync",
    "TransactionType",
]


class OcmfError(ValueError):
    """Base class for OCMF errors."""


class OcmfFormatError(OcmfError):
    """The input is not a readable OCMF document; the message names the field and the reason."""


class OcmfKeyError(OcmfFormatError):
    """A public or private key that cannot be read or does not fit the signature algorithm."""


class OcmfSignatureError(OcmfError):
    """The signature does not verify against the meter's public key."""


class OcmfUnsupportedAlgorithm(OcmfSignatureError):
    """The signature algorithm is in the OCMF list but this installation cannot check it."""


class TimeSync(StrEnum):
    """Synchronisation state of a reading's clock (the letter after the time in TM)."""

    UNKNOWN = "U"  # unknown, unsynchronised
    INFORMATIVE = "I"  # info clock
    SYNCHRONIZED = "S"
    RELATIVE = "R"  # relative time accounting with a calibrated duration


class TransactionType(StrEnum):
    """Why a reading was taken (TX)."""

    BEGIN = "B"
    CHARGING = "C"
    EXCEPTION = "X"  # error during charging, transaction continues
    END = "E"
    LOCAL_END = "L"  # terminated locally
    REMOTE_END = "R"  # terminated remotely
    ABORT = "A"  # aborted by an error
    POWER_FAILURE = "P"  # terminated by a power failure
    SUSPENDED = "S"
    TARIFF_CHANGE = "T"

    @property
    def ends_transaction(self) -> bool:
        """True for E and its more precise variants L, R, A and P."""
        return self in _END_TYPES


_END_TYPES = frozenset(
    {
        TransactionType.END,
        TransactionType.LOCAL_END,
        TransactionType.REMOTE_END,
        TransactionType.ABORT,
        TransactionType.POWER_FAILURE,
    }
)


class MeterStatus(StrEnum):
    """State of the meter at the time of reading (ST, table 10)."""

    NOT_PRESENT = "N"
    OK = "G"
    TIMEOUT = "T"
    DISCONNECTED = "D"
    NOT_FOUND = "R"
    MANIPULATED = "M"
    EXCHANGED = "X"
    INCOMPATIBLE = "I"
    OUT_OF_RANGE = "O"
    SUBSTITUTE = "S"
    OTHER_ERROR = "E"
    READ_ERROR = "F"


@dataclass(frozen=True, slots=True)
class ReadingTime:
    """TM: the reading's time with its UTC offset, and the clock's synchronisation state."""

    at: datetime  # timezone-aware, offset as the meter stated it
    sync: TimeSync
    text: str  # TM verbatim, e.g. "2018-07-24T13:22:04,000+0200 S"


@dataclass(frozen=True, slots=True)
class Reading:
    """One entry of RD. Fields a meter left out carry over from the previous reading (spec)."""

    time: ReadingTime  # TM
    transaction: TransactionType | None  # TX (missing for fiscal readings)
    value: Decimal | None  # RV, exactly as written (missing for a pure error event)
    obis: str | None  # RI, the OBIS code of the register, e.g. "1-b:1.8.0"
    unit: str | None  # RU, e.g. "kWh" or "Wh"
    current_type: str | None  # RT, "AC" or "DC"
    cumulated_loss: Decimal | None  # CL
    error_flags: str  # EF: "E" energy unusable, "t" time unusable
    status: MeterStatus | None  # ST (None when a meter left it out or wrote an unknown code)

    @property
    def energy_usable(self) -> bool:
        """False when the meter flagged the energy of this reading as unusable (EF contains E)."""
        return "E" not in self.error_flags

    @property
    def time_usable(self) -> bool:
        """False when the meter flagged the time of this reading as unusable (EF contains t)."""
        return "t" not in self.error_flags


@dataclass(frozen=True, slots=True)
class GatewayInfo:
    """The signing component (GI, GS, GV)."""

    identification: str | None  # GI
    serial: str | None  # GS
    version: str | None  # GV


@dataclass(frozen=True, slots=True)
class MeterIdentity:
    """The meter (MV, MM, MS, MF)."""

    manufacturer: str | None  # MV
    model: str | None  # MM
    serial: str | None  # MS
    firmware: str | None  # MF


@dataclass(frozen=True, slots=True)
class Pagination:
    """PG: the context letter (T transaction, F fiscal) and the counter of that context.

    A PG that is not a letter and a number (the reference software accepts such records) keeps
    its text; `number` is then None and no order can be read from it.
    """

    context: str
    number: int | None
    text: str = ""

    def __str__(self) -> str:
        if self.text:
            return self.text
        return f"{self.context}{'' if self.number is None else self.number}"


@dataclass(frozen=True, slots=True)
class Identification:
    """User assignment (IS, IL, IF, IT, ID, TT); present exactly when there is a transaction."""

    assigned: bool  # IS
    level: str | None  # IL
    flags: tuple[str, ...]  # IF
    type: str | None  # IT
    data: str | None  # ID
    tariff_text: str | None  # TT


@dataclass(frozen=True, slots=True)
class ChargePoint:
    """Assignment of the charge point (CT, CI)."""

    id_type: str | None  # CT, e.g. "EVSEID" or "CBIDC"
    id: str | None  # CI


@dataclass(frozen=True, slots=True)
class LossCompensation:
    """LC: the charging cable's characteristics used for loss compensation."""

    naming: str | None  # LN
    identification: Decimal | None  # LI
    resistance: Decimal  # LR
    unit: str  # LU, "mOhm" or "uOhm"


@dataclass(frozen=True, slots=True)
class OcmfPayload:
    """The payload data section: everything the signature covers."""

    format_version: str | None  # FV
    gateway: GatewayInfo  # GI, GS, GV
    pagination: Pagination  # PG
    meter: MeterIdentity  # MV, MM, MS, MF
    identification: Identification | None  # IS, IL, IF, IT, ID, TT
    charge_point: ChargePoint  # CT, CI
    charge_controller_version: str | None  # CCV
    loss_compensation: LossCompensation | None  # LC
    readings: tuple[Reading, ...]  # RD
    warnings: tuple[str, ...] = ()  # deviations from the spec the reader accepted, one per line


@dataclass(frozen=True, slots=True)
class OcmfSignature:
    """The signature section (SA, SE, SM, SD); SD already decoded from its encoding."""

    algorithm: str  # SA, "ECDSA-secp256r1-SHA256" when the station left it out
    encoding: str  # SE, "hex" (default) or "base64"
    mime_type: str  # SM, "application/x-der"
    data: bytes  # SD, decoded: a DER-encoded ECDSA signature (some meters: non-strict DER, r‖s)
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OcmfDocument:
    """A parsed `OCMF|{payload}|{signature}` string."""

    payload: OcmfPayload
    signature: OcmfSignature
    payload_text: str  # the payload JSON exactly as it stood between the pipes: what is signed
    text: str  # the whole OCMF string as given
    section_warnings: tuple[str, ...] = ()  # e.g. a fourth section after the signature

    @property
    def readings(self) -> tuple[Reading, ...]:
        return self.payload.readings

    @property
    def warnings(self) -> tuple[str, ...]:
        """Every deviation from the spec that was accepted while reading this document."""
        return self.section_warnings + self.payload.warnings + self.signature.warnings
