"""Protocol values → domain values, shared by the version adapters: times, numbers, samples.

The adapters get payloads already validated against the version's JSON schema and
snake_cased by the `ocpp` library; numbers arrive as `int` or `Decimal` (frames are parsed
with `parse_float=Decimal`), 1.6 sampled values as strings. Nothing here decides business
rules: a sample is converted to Wh/W/A/% and otherwise passed on verbatim.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ocpp.exceptions import PropertyConstraintViolationError

from evbill.metering.readings import unit_exponent
from evbill.sessions.commands import (
    AuthorizationStatus,
    IdToken,
    IdTokenType,
    MeterReading,
    ReadingContext,
    SignedReading,
)

__all__ = [
    "ENERGY_IMPORT",
    "authorization_status",
    "decimal_field",
    "id_token",
    "id_token_type",
    "iso",
    "parse_time",
    "reading_from_samples",
    "readings",
    "readings_energy",
]

ENERGY_IMPORT = "Energy.Active.Import.Register"
_POWER_IMPORT = "Power.Active.Import"
_CURRENT_IMPORT = "Current.Import"
_SOC = "SoC"

# Unit (any case) → (quantity kind, power of ten to the domain unit). Energy goes through
# `evbill.metering.readings` (Wh, kWh). Unknown units make a sample unusable.
_UNITS: Mapping[str, tuple[str, int]] = {
    "w": ("power", 0),
    "kw": ("power", 3),
    "a": ("current", 0),
    "percent": ("percent", 0),
}
#: Timestamps outside these years are refused: no station clock is right there, and a
#: stored year 9999 overflows every later date computation.
EARLIEST_YEAR, LATEST_YEAR = 2000, 2099
_DEFAULT_UNIT = {ENERGY_IMPORT: "Wh", _POWER_IMPORT: "W", _CURRENT_IMPORT: "A", _SOC: "Percent"}
_CONTEXTS = {c.value: c for c in ReadingContext}


def iso(at: datetime) -> str:
    """An RFC 3339 UTC timestamp with a Z, as OCPP wants it."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: str, field: str) -> datetime:
    """An OCPP dateTime; a station clock that omits the offset is taken to be in UTC."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, AttributeError):
        raise PropertyConstraintViolationError(
            details={"cause": f"{field}: {value!r} is not an RFC 3339 date-time"}
        ) from None
    if not EARLIEST_YEAR <= parsed.year <= LATEST_YEAR:
        raise PropertyConstraintViolationError(
            details={"cause": f"{field}: {value!r} is out of range (years "
                              f"{EARLIEST_YEAR}-{LATEST_YEAR})"}
        )
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def decimal_field(value: Any, field: str) -> Decimal:
    """A JSON number or numeric string as an exact finite Decimal."""
    if isinstance(value, bool):
        value = None  # never treat true/false as 1/0
    try:
        result = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        result = None
    if result is None or not result.is_finite() or value is None:
        raise PropertyConstraintViolationError(
            details={"cause": f"{field}: {value!r} is not a decimal number"}
        )
    return result


def id_token_type(value: str) -> IdTokenType | None:
    """The domain token type for a 2.x idToken type string, None if we do not know it."""
    try:
        return IdTokenType(value)
    except ValueError:
        return None


def id_token(data: Mapping[str, Any] | None) -> IdToken | None:
    """A 2.x IdTokenType object (snake_cased) as a domain IdToken; None if absent/unknown."""
    if not data:
        return None
    kind = id_token_type(str(data.get("type", "")))
    return IdToken(str(data["id_token"]), kind) if kind is not None else None


def authorization_status(status: AuthorizationStatus, allowed: frozenset[str]) -> str:
    """The domain status if the version knows it, else the closest refusal."""
    if status.value in allowed:
        return status.value
    return "Invalid" if "Invalid" in allowed else "Unknown"


def _unit(sample: Mapping[str, Any], measurand: str) -> tuple[str, int] | None:
    """The quantity kind and the power of ten to its domain unit (Wh, W, A, %)."""
    unit_of_measure = sample.get("unit_of_measure")  # 2.x
    if isinstance(unit_of_measure, Mapping):
        unit = str(unit_of_measure.get("unit", _DEFAULT_UNIT.get(measurand, "")))
        multiplier = int(unit_of_measure.get("multiplier", 0))
    else:  # 1.6
        unit = str(sample.get("unit", _DEFAULT_UNIT.get(measurand, "")))
        multiplier = 0
    if measurand == ENERGY_IMPORT:
        exponent = unit_exponent(unit)
        return None if exponent is None else ("energy", exponent + multiplier)
    known = _UNITS.get(unit.strip().lower())
    if known is None:
        return None
    return known[0], known[1] + multiplier


def _signed(sample: Mapping[str, Any], context: ReadingContext) -> SignedReading | None:
    signed = sample.get("signed_meter_value")  # 2.x SignedMeterValueType
    if isinstance(signed, Mapping):
        return SignedReading(
            signed_data=str(signed["signed_meter_data"]),
            encoding=str(signed.get("encoding_method") or signed.get("signing_method") or ""),
            public_key=signed.get("public_key"),
            context=context,
        )
    if sample.get("format") == "SignedData":  # 1.6: the value itself is the signed data
        data = str(sample.get("value", ""))
        encoding = data.split("|", 1)[0] if "|" in data else "SignedData"
        return SignedReading(signed_data=data, encoding=encoding, context=context)
    return None


def reading_from_samples(
    at: datetime, samples: Iterable[Mapping[str, Any]], field: str
) -> MeterReading:
    """One MeterValue (a timestamp and its sampled values) as one domain MeterReading.

    Totals win over per-phase values; with per-phase currents only, the largest phase
    current is the one that limits the car, so that is the one kept.
    """
    values: dict[str, Decimal] = {}
    phase_currents: list[Decimal] = []
    context = ReadingContext.SAMPLE_PERIODIC
    signed: SignedReading | None = None
    for index, sample in enumerate(samples):
        where = f"{field}.sampledValue[{index}]"
        context = _CONTEXTS.get(str(sample.get("context", "")), context)
        signed = _signed(sample, context) or signed
        if sample.get("format") == "SignedData":
            continue
        measurand = str(sample.get("measurand", ENERGY_IMPORT))
        if measurand not in _DEFAULT_UNIT or sample.get("location") not in (None, "Outlet", "EV"):
            continue
        unit = _unit(sample, measurand)
        if unit is None:
            continue
        # scaleb keeps the reported precision (0.066 kWh is 66 Wh, not 66.000)
        amount = decimal_field(sample.get("value"), f"{where}.value").scaleb(unit[1])
        if sample.get("phase") is None:
            values[unit[0]] = amount
        elif unit[0] == "current":
            phase_currents.append(amount)
    if "current" not in values and phase_currents:
        values["current"] = max(phase_currents)
    return MeterReading(
        at=at,
        energy_wh=values.get("energy"),
        power_w=values.get("power"),
        current_a=values.get("current"),
        soc_percent=values.get("percent"),
        context=context,
        signed=signed,
    )


def readings(
    meter_values: Iterable[Mapping[str, Any]] | None, field: str
) -> tuple[MeterReading, ...]:
    """A MeterValue list (1.6 or 2.x, snake_cased) as domain readings in the order sent."""
    result = []
    for index, meter_value in enumerate(meter_values or ()):
        where = f"{field}[{index}]"
        at = parse_time(str(meter_value.get("timestamp")), f"{where}.timestamp")
        result.append(reading_from_samples(at, meter_value.get("sampled_value", ()), where))
    return tuple(result)


def readings_energy(values: tuple[MeterReading, ...], context: ReadingContext) -> Decimal | None:
    """The energy register of the reading taken at `context` (Transaction.Begin/End).

    Without one: the first register reading for a begin, the last one for an end.
    """
    for reading in values:
        if reading.context is context and reading.energy_wh is not None:
            return reading.energy_wh
    with_energy = [r.energy_wh for r in values if r.energy_wh is not None]
    if not with_energy:
        return None
    return with_energy[0] if context is ReadingContext.TRANSACTION_BEGIN else with_energy[-1]
