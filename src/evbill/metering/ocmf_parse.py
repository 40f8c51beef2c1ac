"""Reading `OCMF|{payload}|{signature}` strings into OcmfDocument values, field by field.

Every refusal is an OcmfFormatError whose message names the OCMF field and the reason.
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

# <Year>-<Month>-<Day>T<Hours>:<Minutes>:<Seconds>,<Milliseconds><Zone> <Sync>, e.g.
# "2018-07-24T13:22:04,000+0200 S". A full stop before the milliseconds is accepted too.
_TM = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})T(?P<h>\d{2}):(?P<m>\d{2}):(?P<s>\d{2})[,.](?P<ms>\d{3})"
    r"(?P<sign>[+-])(?P<oh>\d{2}):?(?P<om>\d{2}) (?P<sync>[A-Z])"
)
_PG = re.compile(r"(?P<context>[TF])(?P<number>\d+)")


def parse_ocmf(text: str) -> OcmfDocument:
    """Parse an OCMF string; whitespace around the whole string is ignored, inside it is kept."""
    if not isinstance(text, str):
        raise OcmfFormatError(f"OCMF: expected text, got {type(text).__name__}")
    stripped = text.strip()
    parts = stripped.split("|")
    if len(parts) != 3:
        raise OcmfFormatError(
            f"OCMF: expected 'OCMF|{{payload}}|{{signature}}' (3 sections separated by '|'), "
            f"found {len(parts)} section(s)"
        )
    header, payload_text, signature_text = parts
    if header != _HEADER:
        raise OcmfFormatError(f"header: expected 'OCMF', found {header[:20]!r}")
    payload = parse_payload(payload_text)
    signature = parse_signature(signature_text)
    return OcmfDocument(payload, signature, payload_text, stripped)


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


def parse_reading_time(text: str, field: str = "TM") -> ReadingTime:
    """Parse TM, e.g. "2018-07-24T13:22:04,000+0200 S": an aware datetime and the sync state."""
    match = _TM.fullmatch(text)
    if match is None:
        raise OcmfFormatError(
            f"{field}: {text!r} is not 'YYYY-MM-DDThh:mm:ss,fff+hhmm S' (time, offset, sync state)"
        )
    try:
        sync = TimeSync(match["sync"])
    except ValueError:
        raise OcmfFormatError(f"{field}: unknown time sync state {match['sync']!r}") from None
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


def _code(kind: type[_Code], value: str, field: str) -> _Code:
    try:
        return kind(value)
    except ValueError:
        allowed = "".join(member.value for member in kind)
        raise OcmfFormatError(f"{field}: unknown code {value!r} (allowed: {allowed})") from None


def _merge_reading(raw: Any, previous: Mapping[str, Any], where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise OcmfFormatError(f"{where}: expected a JSON object, found {raw!r}")
    merged = {key: previous[key] for key in _CARRIED if key in previous}
    merged.update(raw)
    return merged


def _reading(fields: Mapping[str, Any], where: str) -> Reading:
    time_text = _required_text(fields, "TM", where)
    status = _required_text(fields, "ST", where)
    tx = _text(fields, "TX", where)
    flags = _text(fields, "EF", where) or ""
    unknown = set(flags) - _ERROR_FLAGS
    if unknown:
        raise OcmfFormatError(f"{where}EF: unknown error flag(s) {''.join(sorted(unknown))!r}")
    value = None if fields.get("RV") is None else _number(fields["RV"], f"{where}RV")
    unit = _text(fields, "RU", where)
    if value is not None and not unit:
        raise OcmfFormatError(f"{where}RU: missing, a reading value needs its unit")
    loss = None if fields.get("CL") is None else _number(fields["CL"], f"{where}CL")
    return Reading(
        time=parse_reading_time(time_text, f"{where}TM"),
        transaction=None if tx is None else _code(TransactionType, tx, f"{where}TX"),
        value=value,
        obis=_text(fields, "RI", where),
        unit=unit,
        current_type=_text(fields, "RT", where),
        cumulated_loss=loss,
        error_flags=flags,
        status=_code(MeterStatus, status, f"{where}ST"),
    )


def _readings(raw: Any) -> tuple[Reading, ...]:
    if raw is None:
        raise OcmfFormatError("RD: missing, a record needs at least one reading")
    if not isinstance(raw, list) or not raw:
        raise OcmfFormatError(f"RD: expected a non-empty array of readings, found {raw!r}")
    readings: list[Reading] = []
    previous: dict[str, Any] = {}
    for index, item in enumerate(raw):
        where = f"RD[{index}]."
        previous = _merge_reading(item, previous, where[:-1])
        readings.append(_reading(previous, where))
    return tuple(readings)


def _pagination(obj: Mapping[str, Any]) -> Pagination:
    text = _required_text(obj, "PG")
    match = _PG.fullmatch(text)
    if match is None:
        raise OcmfFormatError(f"PG: {text!r} is not a context letter T or F and a number")
    return Pagination(match["context"], int(match["number"]))


def _identification(obj: Mapping[str, Any], pagination: Pagination) -> Identification | None:
    if "IS" not in obj:
        if pagination.context == "T":
            raise OcmfFormatError("IS: missing, a transaction record (PG T…) needs it")
        return None
    assigned = obj["IS"]
    if not isinstance(assigned, bool):
        raise OcmfFormatError(f"IS: expected true or false, found {assigned!r}")
    flags = obj.get("IF", [])
    if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
        raise OcmfFormatError(f"IF: expected an array of strings, found {flags!r}")
    return Identification(
        assigned=assigned,
        level=_text(obj, "IL"),
        flags=tuple(flags),
        type=_required_text(obj, "IT") if pagination.context == "T" else _text(obj, "IT"),
        data=_text(obj, "ID"),
        tariff_text=_text(obj, "TT"),
    )


def _loss_compensation(raw: Any) -> LossCompensation | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise OcmfFormatError(f"LC: expected a JSON object, found {raw!r}")
    if raw.get("LR") is None:
        raise OcmfFormatError("LC.LR: missing cable resistance")
    unit = _required_text(raw, "LU", "LC.")
    ident = raw.get("LI")
    return LossCompensation(
        naming=_text(raw, "LN", "LC."),
        identification=None if ident is None else _number(ident, "LC.LI"),
        resistance=_number(raw["LR"], "LC.LR"),
        unit=unit,
    )


def parse_payload(text: str) -> OcmfPayload:
    """Parse the payload data section (the JSON between the first and second pipe)."""
    obj = _json_object(text, "payload")
    pagination = _pagination(obj)
    meter = MeterIdentity(_text(obj, "MV"), _text(obj, "MM"), _text(obj, "MS"), _text(obj, "MF"))
    gateway = GatewayInfo(_text(obj, "GI"), _text(obj, "GS"), _text(obj, "GV"))
    if not meter.serial and not gateway.serial:
        raise OcmfFormatError("MS: missing, and no gateway serial GS identifies the signer either")
    return OcmfPayload(
        format_version=_text(obj, "FV"),
        gateway=gateway,
        pagination=pagination,
        meter=meter,
        identification=_identification(obj, pagination),
        charge_point=ChargePoint(_text(obj, "CT"), _text(obj, "CI")),
        charge_controller_version=_text(obj, "CCV"),
        loss_compensation=_loss_compensation(obj.get("LC")),
        readings=_readings(obj.get("RD")),
    )


def _decode_signature(data: str, encoding: str) -> bytes:
    try:
        if encoding == "hex":
            return bytes.fromhex(data)
        return base64.b64decode("".join(data.split()), validate=True)
    except (ValueError, binascii.Error):
        raise OcmfFormatError(f"SD: not valid {encoding} signature data") from None


def parse_signature(text: str) -> OcmfSignature:
    """Parse the signature section; SA, SE and SM take their spec defaults when left out."""
    obj = _json_object(text, "signature")
    algorithm = _text(obj, "SA") or DEFAULT_ALGORITHM
    algorithm_for(algorithm)  # an identifier outside the OCMF list is a format error
    encoding = _text(obj, "SE") or "hex"
    if encoding not in _ENCODINGS:
        raise OcmfFormatError(f"SE: unknown signature encoding {encoding!r} (allowed: hex, base64)")
    mime = _text(obj, "SM") or _MIME_DER
    if mime != _MIME_DER:
        raise OcmfFormatError(f"SM: unknown signature mime type {mime!r} (allowed: {_MIME_DER})")
    data = _required_text(obj, "SD")
    if not data:
        raise OcmfFormatError("SD: empty signature data")
    return OcmfSignature(algorithm, encoding, mime, _decode_signature(data, encoding))
