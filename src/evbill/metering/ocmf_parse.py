"""Reading `OCMF|{payload}|{signature}` strings into OcmfDocument values, field by field.

The reader is as lenient as the reference transparency software (S.A.F.E. e.V.): a deviation
that does not stop the signature from being checked (KEBA's `"IS":false` without `IT`, OCMF
0.1's `"IS":"VERIFIED"`, `"FV":1.0` as a number, a PG that is not a letter and a number, an
unknown status code, a missing unit …) becomes a warning on the document, in the same
"FIELD: reason" form as a refusal. What cannot be read at all is refused with an OcmfFormatError
naming the field: no JSON, duplicate keys, an unknown SA or SE, undecodable SD, a reading
without its time, a value that is not a number. `strict=True` refuses every deviation too (the
signer uses it, so evbill never produces what it merely tolerates).

Numbers are read as Decimal straight from the JSON text, so RV keeps exactly the digits the
meter wrote.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Final, TypeVar

from evbill.metering.ocmf_crypto import DEFAULT_ALGORITHM, algorithm_for
from evbill.metering.ocmf_model import (
    ChargePoint,
    GatewayInfo,
    Identification,
    LossCompensation,
    MeterIdentity,
    MeterStatus,
    OcmfDocument,
    OcmfFormatError,
    OcmfPayload,
    OcmfSignature,
    Pagination,
    Reading,
    ReadingTime,
    TimeSync,
    TransactionType,
)

__all__ = ["parse_ocmf", "parse_payload", "parse_reading_time", "parse_signature"]

_HEADER: Final = "OCMF"
_MIME_DER: Final = "application/x-der"
_ENCODINGS: Final = ("hex", "base64")
_ERROR_FLAGS: Final = frozenset("Et")
# Reading fields that, when a meter leaves them out, carry the previous reading's value.
_CARRIED: Final = ("TM", "TX", "RI", "RU", "RT", "EF", "ST")
# OCMF 0.1 wrote the identification status into IS; these mean "no user assigned".
_UNASSIGNED: Final = frozenset({"", "NONE", "FALSE", "UNASSIGNED", "DENIED"})

# <Year>-<Month>-<Day>T<Hours>:<Minutes>:<Seconds>,<Milliseconds><Zone> <Sync>, e.g.
# "2018-07-24T13:22:04,000+0200 S". A full stop before the milliseconds is accepted too.
_TM = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})T(?P<h>\d{2}):(?P<m>\d{2}):(?P<s>\d{2})[,.](?P<ms>\d{3})"
    r"(?P<sign>[+-])(?P<oh>\d{2}):?(?P<om>\d{2}) (?P<sync>[A-Z])"
)
_PG = re.compile(r"(?P<context>[TF])(?P<number>\d+)")


class _Reader:
    """Collects deviations: a warning each, or the first one raised when strict."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.warnings: list[str] = []

    def deviation(self, message: str) -> None:
        if self.strict:
            raise OcmfFormatError(message)
        self.warnings.append(message)


def parse_ocmf(text: str, *, strict: bool = False) -> OcmfDocument:
    """Parse an OCMF string; whitespace around the whole string is ignored, inside it is kept."""
    if not isinstance(text, str):
        raise OcmfFormatError(f"OCMF: expected text, got {type(text).__name__}")
    stripped = text.strip()
    parts = stripped.split("|")
    if len(parts) < 3 or (strict and len(parts) != 3):
        raise OcmfFormatError(
            f"OCMF: expected 'OCMF|{{payload}}|{{signature}}' (3 sections separated by '|'), "
            f"found {len(parts)} section(s)"
        )
    header, payload_text, signature_text = parts[:3]
    if header != _HEADER:
        raise OcmfFormatError(f"header: expected 'OCMF', found {header[:20]!r}")
    sections: tuple[str, ...] = ()
    if len(parts) > 3:
        sections = (
            f"OCMF: {len(parts) - 3} section(s) after the signature ignored "
            "(not signed; a key is only taken from --public-key or the container)",
        )
    payload = parse_payload(payload_text, strict=strict)
    signature = parse_signature(signature_text, strict=strict)
    return OcmfDocument(payload, signature, payload_text, stripped, sections)


def _reject_constant(name: str) -> Any:
    raise OcmfFormatError(f"JSON: {name} is not a number OCMF allows")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise OcmfFormatError(f"{key}: the key appears twice in one JSON object")
        result[key] = value
    return result


def _json_object(text: str, section: str) -> dict[str, Any]:
    try:
        value = json.loads(
            text,
            parse_float=Decimal,
            parse_int=Decimal,
            parse_constant=_reject_constant,
            object_pairs_hook=_no_duplicates,
        )
    except json.JSONDecodeError as exc:
        raise OcmfFormatError(f"{section}: not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise OcmfFormatError(f"{section}: expected a JSON object, found {type(value).__name__}")
    return value


def _text(obj: Mapping[str, Any], key: str, where: str = "") -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise OcmfFormatError(f"{where}{key}: expected a string, found {value!r}")
    return value


def _loose_text(reader: _Reader, obj: Mapping[str, Any], key: str, where: str = "") -> str | None:
    """A string field that some meters write as a number (`"FV":1.0`, `"CT":0`): kept as text."""
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Decimal):
        reader.deviation(f"{where}{key}: the number {value} where the spec has a string")
        return str(value)
    raise OcmfFormatError(f"{where}{key}: expected a string, found {value!r}")


def _required_text(obj: Mapping[str, Any], key: str, where: str = "") -> str:
    value = _text(obj, key, where)
    if value is None:
        raise OcmfFormatError(f"{where}{key}: missing")
    return value


def _number(value: Any, field: str) -> Decimal:
    """A JSON number as Decimal; a numeric string (some DZG gateways send RV so) is read too."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise OcmfFormatError(f"{field}: {value!r} is not a number") from None
        if number.is_finite():
            return number
    raise OcmfFormatError(f"{field}: expected a number, found {value!r}")


def parse_reading_time(text: str, field: str = "TM", *, strict: bool = True) -> ReadingTime:
    """Parse TM, e.g. "2018-07-24T13:22:04,000+0200 S": an aware datetime and the sync state.

    With strict=False an unknown sync letter reads as U (unknown); the caller warns.
    """
    match = _TM.fullmatch(text)
    if match is None:
        raise OcmfFormatError(
            f"{field}: {text!r} is not 'YYYY-MM-DDThh:mm:ss,fff+hhmm S' (time, offset, sync state)"
        )
    try:
        sync = TimeSync(match["sync"])
    except ValueError:
        if strict:
            raise OcmfFormatError(f"{field}: unknown time sync state {match['sync']!r}") from None
        sync = TimeSync.UNKNOWN
    offset = timedelta(hours=int(match["oh"]), minutes=int(match["om"]))
    if offset >= timedelta(hours=24):
        raise OcmfFormatError(f"{field}: UTC offset out of range in {text!r}")
    try:
        year, month, day = (int(p) for p in match["date"].split("-"))
        at = datetime(
            year, month, day, int(match["h"]), int(match["m"]), int(match["s"]),
            int(match["ms"]) * 1000,
            tzinfo=timezone(-offset if match["sign"] == "-" else offset),
        )  # fmt: skip
    except ValueError as exc:
        raise OcmfFormatError(f"{field}: {text!r} is not a real date and time ({exc})") from None
    return ReadingTime(at, sync, text)


_Code = TypeVar("_Code", TransactionType, MeterStatus)


def _code(reader: _Reader, kind: type[_Code], value: str, field: str) -> _Code | None:
    try:
        return kind(value)
    except ValueError:
        allowed = "".join(member.value for member in kind)
        reader.deviation(f"{field}: unknown code {value!r} (allowed: {allowed})")
        return None


def _merge_reading(raw: Any, previous: Mapping[str, Any], where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise OcmfFormatError(f"{where}: expected a JSON object, found {raw!r}")
    merged = {key: previous[key] for key in _CARRIED if key in previous}
    merged.update(raw)
    return merged


def _reading(reader: _Reader, fields: Mapping[str, Any], where: str) -> Reading:
    time_text = _required_text(fields, "TM", where)
    tx = _text(fields, "TX", where)
    flags = _text(fields, "EF", where) or ""
    unknown = set(flags) - _ERROR_FLAGS
    if unknown:
        reader.deviation(f"{where}EF: unknown error flag(s) {''.join(sorted(unknown))!r}")
    value = None if fields.get("RV") is None else _number(fields["RV"], f"{where}RV")
    unit = _text(fields, "RU", where)
    if value is not None and not unit:
        reader.deviation(f"{where}RU: missing, the reading value has no unit")
    loss = None if fields.get("CL") is None else _number(fields["CL"], f"{where}CL")
    status_text = _text(fields, "ST", where)
    if status_text is None:
        reader.deviation(f"{where}ST: missing, the meter status is unknown")
    time = parse_reading_time(time_text, f"{where}TM", strict=reader.strict)
    if time.text[-1] != time.sync.value:
        reader.deviation(f"{where}TM: unknown time sync state {time.text[-1]!r}, read as U")
    return Reading(
        time=time,
        transaction=None if tx is None else _code(reader, TransactionType, tx, f"{where}TX"),
        value=value,
        obis=_text(fields, "RI", where),
        unit=unit,
        current_type=_text(fields, "RT", where),
        cumulated_loss=loss,
        error_flags=flags,
        status=None
        if status_text is None
        else _code(reader, MeterStatus, status_text, f"{where}ST"),
    )


def _readings(reader: _Reader, raw: Any) -> tuple[Reading, ...]:
    if raw is None:
        raise OcmfFormatError("RD: missing, a record needs at least one reading")
    if not isinstance(raw, list) or not raw:
        raise OcmfFormatError(f"RD: expected a non-empty array of readings, found {raw!r}")
    readings: list[Reading] = []
    previous: dict[str, Any] = {}
    for index, item in enumerate(raw):
        where = f"RD[{index}]."
        previous = _merge_reading(item, previous, where[:-1])
        readings.append(_reading(reader, previous, where))
    return tuple(readings)


def _pagination(reader: _Reader, obj: Mapping[str, Any]) -> Pagination:
    raw = obj.get("PG")
    if raw is None:
        reader.deviation("PG: missing, the record's place in the meter's sequence is unknown")
        return Pagination("", None, "")
    if not isinstance(raw, str):
        if not isinstance(raw, Decimal):
            raise OcmfFormatError(f"PG: expected a string, found {raw!r}")
        reader.deviation(f"PG: the number {raw} where the spec has a string")
        raw = str(raw)
    match = _PG.fullmatch(raw)
    if match is None:
        reader.deviation(f"PG: {raw!r} is not a context letter T or F and a number")
        return Pagination(raw[:1], None, raw)
    return Pagination(match["context"], int(match["number"]), raw)


def _assigned(reader: _Reader, value: Any) -> tuple[bool, str | None]:
    """IS as (assigned, level it implies): a boolean, or OCMF 0.1's status text."""
    if isinstance(value, bool):
        return value, None
    if isinstance(value, str):
        reader.deviation(f"IS: {value!r} (OCMF 0.1 status) where OCMF 1.0 has true or false")
        return value.strip().upper() not in _UNASSIGNED, value
    raise OcmfFormatError(f"IS: expected true or false, found {value!r}")


def _identification(
    reader: _Reader, obj: Mapping[str, Any], pagination: Pagination
) -> Identification | None:
    transaction = pagination.context == "T"
    if "IS" not in obj:
        if transaction:
            reader.deviation("IS: missing, a transaction record (PG T…) should say it")
        if not any(key in obj for key in ("IL", "IF", "IT", "ID", "TT")):
            return None
    assigned, implied_level = _assigned(reader, obj["IS"]) if "IS" in obj else (False, None)
    flags = obj.get("IF", [])
    if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
        reader.deviation(f"IF: expected an array of strings, found {flags!r}; ignored")
        flags = []
    kind = _text(obj, "IT")
    if kind is None and transaction:
        reader.deviation("IT: missing, the identification type is unknown")
    return Identification(
        assigned=assigned,
        level=_text(obj, "IL") or implied_level,
        flags=tuple(flags),
        type=kind,
        data=_text(obj, "ID"),
        tariff_text=_text(obj, "TT"),
    )


def _loss_compensation(reader: _Reader, raw: Any) -> LossCompensation | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        reader.deviation(f"LC: expected a JSON object, found {raw!r}; ignored")
        return None
    if raw.get("LR") is None:
        reader.deviation("LC.LR: missing cable resistance; LC ignored")
        return None
    unit = _text(raw, "LU", "LC.")
    if unit is None:
        reader.deviation("LC.LU: missing resistance unit; LC ignored")
        return None
    ident = raw.get("LI")
    return LossCompensation(
        naming=_text(raw, "LN", "LC."),
        identification=None if ident is None else _number(ident, "LC.LI"),
        resistance=_number(raw["LR"], "LC.LR"),
        unit=unit,
    )


def parse_payload(text: str, *, strict: bool = False) -> OcmfPayload:
    """Parse the payload data section (the JSON between the first and second pipe)."""
    reader = _Reader(strict)
    obj = _json_object(text, "payload")
    pagination = _pagination(reader, obj)
    meter = MeterIdentity(_text(obj, "MV"), _text(obj, "MM"), _text(obj, "MS"), _text(obj, "MF"))
    gateway = GatewayInfo(_text(obj, "GI"), _text(obj, "GS"), _text(obj, "GV"))
    if not meter.serial and not gateway.serial:
        reader.deviation("MS: missing, and no gateway serial GS identifies the signer either")
    format_version = _loose_text(reader, obj, "FV")
    charge_point = ChargePoint(_loose_text(reader, obj, "CT"), _loose_text(reader, obj, "CI"))
    identification = _identification(reader, obj, pagination)
    loss = _loss_compensation(reader, obj.get("LC"))
    readings = _readings(reader, obj.get("RD"))
    return OcmfPayload(
        format_version=format_version,
        gateway=gateway,
        pagination=pagination,
        meter=meter,
        identification=identification,
        charge_point=charge_point,
        charge_controller_version=_text(obj, "CCV"),
        loss_compensation=loss,
        readings=readings,
        warnings=tuple(reader.warnings),
    )


def _decode(data: str, encoding: str) -> bytes | None:
    try:
        if encoding == "hex":
            return bytes.fromhex(data)
        return base64.b64decode("".join(data.split()), validate=True)
    except (ValueError, binascii.Error):
        return None


def parse_signature(text: str, *, strict: bool = False) -> OcmfSignature:
    """Parse the signature section; SA, SE and SM take their spec defaults when left out."""
    reader = _Reader(strict)
    obj = _json_object(text, "signature")
    algorithm = _text(obj, "SA") or DEFAULT_ALGORITHM
    algorithm_for(algorithm)  # an identifier outside the OCMF list is a format error
    encoding = _text(obj, "SE") or "hex"
    if encoding not in _ENCODINGS:
        raise OcmfFormatError(f"SE: unknown signature encoding {encoding!r} (allowed: hex, base64)")
    mime = _text(obj, "SM") or _MIME_DER
    if mime != _MIME_DER:
        reader.deviation(f"SM: unknown signature mime type {mime!r} (the spec has {_MIME_DER})")
    data = _required_text(obj, "SD")
    if not data:
        raise OcmfFormatError("SD: empty signature data")
    decoded = _decode(data, encoding)
    if decoded is None:
        raise OcmfFormatError(f"SD: not valid {encoding} signature data")
    return OcmfSignature(algorithm, encoding, mime, decoded, tuple(reader.warnings))
