"""The signed energy of a charging session: END minus BEGIN reading, in Wh, or why it cannot be had.

Either two OCMF records (begin record, end record) or one record holding both readings. The
rules follow the spec's checking duties: both signatures valid, one signer, one user
assignment, pagination ascending, no reading whose energy the meter flagged unusable.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Final

from evbill.metering.ocmf_model import MeterStatus, OcmfError, Reading, TransactionType
from evbill.metering.ocmf_verify import OcmfVerification

__all__ = [
    "EnergyRefusal",
    "OcmfEnergyError",
    "SessionEnergy",
    "session_energy",
    "to_wh",
]

#: Exact factors from an OCMF energy unit (RU) to watt-hours.
_WH_PER_UNIT: Final = {"Wh": Decimal(1), "kWh": Decimal(1000)}


class OcmfEnergyError(OcmfError):
    """The session's signed energy cannot be determined; the message says why."""


class EnergyRefusal(StrEnum):
    """Why no signed energy difference can be given."""

    SIGNATURE_INVALID = "signature_invalid"
    DIFFERENT_METERS = "different_meters"
    DIFFERENT_IDENTIFICATION = "different_identification"
    PAGINATION_ORDER = "pagination_order"
    ERROR_FLAGS = "error_flags"
    METER_STATUS = "meter_status"
    MISSING_BEGIN = "missing_begin"
    MISSING_END = "missing_end"
    UNIT = "unit"
    NEGATIVE = "negative"


@dataclass(frozen=True, slots=True)
class SessionEnergy:
    """The signed energy in Wh, or the refusal and its reason (exactly one of the two is set)."""

    energy_wh: Decimal | None
    refusal: EnergyRefusal | None
    reason: str
    begin: Reading | None = None
    end: Reading | None = None

    @property
    def ok(self) -> bool:
        return self.refusal is None

    def wh(self) -> Decimal:
        """The energy in Wh; raises OcmfEnergyError naming the refusal when there is none."""
        if self.energy_wh is None:
            raise OcmfEnergyError(f"{self.refusal}: {self.reason}")
        return self.energy_wh


class _Refused(Exception):
    def __init__(self, refusal: EnergyRefusal, reason: str) -> None:
        super().__init__(reason)
        self.refusal = refusal
        self.reason = reason


def to_wh(value: Decimal, unit: str) -> Decimal:
    """Convert an energy reading to Wh exactly (kWh × 1000); other units raise OcmfEnergyError."""
    try:
        return value * _WH_PER_UNIT[unit]
    except KeyError:
        raise OcmfEnergyError(f"RU: {unit!r} is not an energy unit (kWh, Wh)") from None


def _same_signer(first: OcmfVerification, last: OcmfVerification) -> None:
    a, b = first.document.payload, last.document.payload
    for field, x, y in (
        ("MS", a.meter.serial, b.meter.serial),
        ("GS", a.gateway.serial, b.gateway.serial),
        ("public key", first.public_key_hex, last.public_key_hex),
    ):
        if x != y:
            raise _Refused(EnergyRefusal.DIFFERENT_METERS, f"{field}: begin {x!r}, end {y!r}")
    ida, idb = a.identification, b.identification
    pair_a = None if ida is None else (ida.type, ida.data)
    pair_b = None if idb is None else (idb.type, idb.data)
    if pair_a != pair_b:
        raise _Refused(
            EnergyRefusal.DIFFERENT_IDENTIFICATION, f"IT/ID: begin {pair_a!r}, end {pair_b!r}"
        )
    pa, pb = a.pagination, b.pagination
    if pa.number is None or pb.number is None or pa.context != pb.context or pb.number <= pa.number:
        raise _Refused(
            EnergyRefusal.PAGINATION_ORDER, f"PG: begin {pa}, end {pb}; the end must come later"
        )


def _pick_begin(readings: tuple[Reading, ...], register: str | None) -> tuple[int, Reading]:
    for index, reading in enumerate(readings):
        if reading.transaction is TransactionType.BEGIN and (
            register is None or reading.obis == register
        ):
            return index, reading
    wanted = "" if register is None else f" for register {register}"
    raise _Refused(EnergyRefusal.MISSING_BEGIN, f"TX: no begin reading (B){wanted}")


def _pick_end(readings: tuple[Reading, ...], register: str | None, after: int) -> int:
    found = None
    for index in range(after, len(readings)):
        reading = readings[index]
        if (
            reading.obis == register
            and reading.transaction
            and reading.transaction.ends_transaction
        ):
            found = index
    if found is None:
        raise _Refused(
            EnergyRefusal.MISSING_END, f"TX: no end reading (E, L, R, A, P) for register {register}"
        )
    return found


def _check_usable(reading: Reading, role: str) -> Decimal:
    if reading.status is not MeterStatus.OK:
        status = "none" if reading.status is None else reading.status.name
        raise _Refused(EnergyRefusal.METER_STATUS, f"ST: {role} reading has meter status {status}")
    if not reading.energy_usable:
        raise _Refused(EnergyRefusal.ERROR_FLAGS, f"EF: {role} reading flags its energy unusable")
    if reading.value is None:
        missing = EnergyRefusal.MISSING_BEGIN if role == "begin" else EnergyRefusal.MISSING_END
        raise _Refused(missing, f"RV: {role} reading carries no value")
    if reading.unit not in _WH_PER_UNIT:
        raise _Refused(EnergyRefusal.UNIT, f"RU: {role} reading in {reading.unit!r}, not kWh or Wh")
    return to_wh(reading.value, reading.unit)


def _between(sequence: list[Reading], register: str | None) -> None:
    for reading in sequence:
        if reading.obis == register and not reading.energy_usable:
            raise _Refused(
                EnergyRefusal.ERROR_FLAGS,
                f"EF: a reading at {reading.time.text} flags the energy unusable",
            )


def _energy(
    first: OcmfVerification, last: OcmfVerification | None, register: str | None
) -> SessionEnergy:
    for role, item in (("begin", first), ("end", last)):
        if item is not None and not item.is_valid:
            raise _Refused(EnergyRefusal.SIGNATURE_INVALID, f"{role} record: {item.reason}")
    begin_readings = first.readings
    b_index, begin = _pick_begin(begin_readings, register)
    register = begin.obis
    if last is None:
        e_index = _pick_end(begin_readings, register, b_index + 1)
        end = begin_readings[e_index]
        between = list(begin_readings[b_index + 1 : e_index])
    else:
        _same_signer(first, last)
        e_index = _pick_end(last.readings, register, 0)
        end = last.readings[e_index]
        between = [*begin_readings[b_index + 1 :], *last.readings[:e_index]]
    begin_wh, end_wh = _check_usable(begin, "begin"), _check_usable(end, "end")
    _between(between, register)
    difference = end_wh - begin_wh
    if difference < 0:
        raise _Refused(EnergyRefusal.NEGATIVE, f"RV: end {end_wh} Wh is below begin {begin_wh} Wh")
    reason = f"{register}: {end_wh} Wh - {begin_wh} Wh"
    return SessionEnergy(difference, None, reason, begin, end)


def session_energy(
    begin: OcmfVerification, end: OcmfVerification | None = None, *, register: str | None = None
) -> SessionEnergy:
    """Signed energy between a session's BEGIN and END readings, in Wh (exact Decimal).

    `begin` alone must hold both readings; with `end` the begin reading comes from `begin` and
    the end reading from `end`. `register` picks an OBIS register (RI); by default that of the
    first begin reading. Never raises for a refusal: it is in the result.
    """
    try:
        return _energy(begin, end, register)
    except _Refused as refused:
        return SessionEnergy(None, refused.refusal, refused.reason)
