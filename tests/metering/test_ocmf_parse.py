"""Parsing OCMF: field values as the spec defines them, a warning for each deviation the reference
transparency software accepts, and a clear refusal for what cannot be read."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from evbill.metering.ocmf import (
    OcmfFormatError,
    TimeSync,
    TransactionType,
    Verdict,
    parse_ocmf,
    parse_reading_time,
    payload_json,
    public_key_hex,
    verify_ocmf,
)

from .ocmf_support import meter_key, payload, reading

SPEC_EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "ocmf" / "spec_example.ocmf"
SIGNATURE = '{"SD":"3045022100AA"}'


def _ocmf(body: Mapping[str, object] | str, signature: str = SIGNATURE) -> str:
    text = body if isinstance(body, str) else payload_json(body)
    return f"OCMF|{text}|{signature}"


def test_the_spec_example_parses_with_its_whitespace_kept() -> None:
    text = SPEC_EXAMPLE.read_text(encoding="utf-8")
    document = parse_ocmf(text)
    payload_ = document.payload
    assert document.payload_text.startswith('{\n    "FV": "1.0",')
    assert payload_.gateway.identification == "ABL SBC-301"
    assert payload_.meter.manufacturer == "Phoenix Contact"
    assert payload_.identification is not None
    assert payload_.identification.tariff_text == "Tarif 1"
    assert payload_.loss_compensation is not None
    assert payload_.loss_compensation.resistance == Decimal(2)
    assert payload_.loss_compensation.unit == "mOhm"
    begin, end = payload_.readings
    assert (begin.value, end.value, end.cumulated_loss) == (
        Decimal("2935.6"), Decimal("2965.1"), Decimal("0.5"),
    )  # fmt: skip
    assert begin.time.at == datetime(2018, 7, 24, 11, 22, 4, tzinfo=UTC)
    assert begin.time.sync is TimeSync.SYNCHRONIZED
    # The published SD is 48 bytes of illustration, not a DER signature: it verifies under no key.
    assert verify_ocmf(text, public_key_hex(meter_key("secp256r1"))).verdict is Verdict.INVALID


@pytest.mark.parametrize(
    ("text", "at", "sync"),
    [
        ("2018-07-24T13:22:04,000+0200 S", datetime(2018, 7, 24, 11, 22, 4, tzinfo=UTC), "S"),
        ("2019-08-13T10:03:36,250+0000 R", datetime(2019, 8, 13, 10, 3, 36, 250000, UTC), "R"),
        ("2021-01-01T00:30:00,000-0130 U", datetime(2021, 1, 1, 2, 0, tzinfo=UTC), "U"),
        ("2021-01-01T00:30:00.000+01:00 I", datetime(2020, 12, 31, 23, 30, tzinfo=UTC), "I"),
    ],
)
def test_reading_time_with_offset_and_sync_state(text: str, at: datetime, sync: str) -> None:
    parsed = parse_reading_time(text)
    assert parsed.at == at
    assert parsed.sync is TimeSync(sync)
    assert parsed.text == text


def test_reading_time_keeps_the_stated_offset() -> None:
    parsed = parse_reading_time("2018-07-24T13:22:04,000+0200 S")
    assert parsed.at.utcoffset() == timedelta(hours=2)
    assert parsed.at.tzinfo == timezone(timedelta(hours=2))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2018-07-24T13:22:04+0200 S", "is not 'YYYY"),  # no milliseconds
        ("2018-07-24T13:22:04,000+0200", "is not 'YYYY"),  # no sync state
        ("2018-07-24 13:22:04,000+0200 S", "is not 'YYYY"),
        ("2018-07-24T13:22:04,000Z S", "is not 'YYYY"),
        ("2018-02-30T13:22:04,000+0200 S", "not a real date"),
        ("2018-07-24T25:22:04,000+0200 S", "not a real date"),
        ("2018-07-24T13:22:04,000+0200 Q", "unknown time sync state 'Q'"),
        ("2018-07-24T13:22:04,000+2400 S", "offset out of range"),
    ],
)
def test_bad_reading_time_is_refused(text: str, message: str) -> None:
    with pytest.raises(OcmfFormatError, match=message):
        parse_reading_time(text)


def test_bad_tm_inside_a_record_names_the_reading() -> None:
    with pytest.raises(OcmfFormatError, match=r"RD\[1\]\.TM: '2024-13-01"):
        parse_ocmf(_ocmf(payload([reading(), reading(tm="2024-13-01T10:00:00,000+0100 S")])))


@pytest.mark.parametrize("tx", list(TransactionType))
def test_every_transaction_type_is_read(tx: TransactionType) -> None:
    (parsed,) = parse_ocmf(_ocmf(payload([reading(tx=tx.value)]))).readings
    assert parsed.transaction is tx
    assert parsed.transaction.ends_transaction is (tx.value in "ELRAP")


def test_fiscal_reading_without_transaction_or_user_assignment() -> None:
    body = {"FV": "1.0", "GS": "GW-1", "PG": "F12", "RD": [reading(tx=None)]}
    document = parse_ocmf(_ocmf(body))
    assert document.payload.pagination.context == "F" and document.payload.pagination.number == 12
    assert document.payload.identification is None
    assert document.readings[0].transaction is None


def test_error_event_reading_without_a_value() -> None:
    body = payload([reading(), {"TM": "2024-03-01T10:05:00,000+0100 S", "TX": "X", "EF": "E"}])
    event = parse_ocmf(_ocmf(body)).readings[1]
    assert event.value is None and not event.energy_usable
    assert event.status.value == "G"  # carried over from the reading before


def test_integer_and_exponent_values_stay_exact() -> None:
    body = payload([reading(rv=Decimal(7753), ru="Wh"), reading(tx="E", rv=Decimal("1.2E+3"))])
    first, second = parse_ocmf(_ocmf(body)).readings
    assert first.value == Decimal(7753) and second.value == Decimal(1200)


def test_signature_section_defaults_and_base64() -> None:
    document = parse_ocmf(_ocmf(payload(), '{"SD":"3045"}'))
    assert document.signature.algorithm == "ECDSA-secp256r1-SHA256"
    assert document.signature.encoding == "hex"
    assert document.signature.mime_type == "application/x-der"
    assert document.signature.data == bytes.fromhex("3045")
    b64 = parse_ocmf(_ocmf(payload(), '{"SE":"base64","SD":"MEU="}'))
    assert b64.signature.data == bytes.fromhex("3045")


def test_whitespace_around_the_whole_string_is_ignored() -> None:
    text = _ocmf(payload())
    assert parse_ocmf(f"\n  {text}\n").payload_text == parse_ocmf(text).payload_text


BASE = payload_json(payload())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "found 1 section"),
        (f"OCMF{BASE}{SIGNATURE}", "found 1 section"),
        (f"OCMF|{BASE}", "found 2 section"),
        (f"OCMX|{BASE}|{SIGNATURE}", "header: expected 'OCMF'"),
        (f"OCMF|{BASE[:-1]}|{SIGNATURE}", "payload: not valid JSON"),
        (f"OCMF|[1, 2]|{SIGNATURE}", "payload: expected a JSON object"),
        (f"OCMF|{BASE}|{{SD: 12}}", "signature: not valid JSON"),
        (f"OCMF|{BASE}|{{}}", "SD: missing"),
        (f'OCMF|{BASE}|{{"SD":""}}', "SD: empty"),
        (f'OCMF|{BASE}|{{"SD":"30zz"}}', "SD: not valid hex"),
        (f'OCMF|{BASE}|{{"SE":"base64","SD":"***"}}', "SD: not valid base64"),
        (f'OCMF|{BASE}|{{"SE":"base32","SD":"3045"}}', "SE: unknown signature encoding"),
        (f'OCMF|{BASE}|{{"SA":"ECDSA-secp521r1-SHA512","SD":"3045"}}', "SA: unknown signature"),
        (f'OCMF|{BASE}|{{"SA":"RSA-SHA256","SD":"3045"}}', "SA: unknown signature"),
        (f'OCMF|{BASE}|{{"SD":"3045","SD":"3046"}}', "SD: the key appears twice"),
        (f'OCMF|{BASE[:-1]},"RV":NaN}}|{SIGNATURE}', "NaN is not a number"),
    ],
)
def test_malformed_strings_are_refused_with_the_reason(text: str, message: str) -> None:
    for strict in (False, True):
        with pytest.raises(OcmfFormatError, match=message):
            parse_ocmf(text, strict=strict)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            f"OCMF|{BASE}|{SIGNATURE}|3059301306",
            "OCMF: 1 section\\(s\\) after the signature ignored",
        ),
        (f'OCMF|{BASE}|{{"SM":"application/json","SD":"3045"}}', "SM: unknown"),
    ],
)
def test_section_deviations_warn_and_strict_refuses(text: str, message: str) -> None:
    document = parse_ocmf(text)
    assert any(re.match(message, warning) for warning in document.warnings), document.warnings
    with pytest.raises(OcmfFormatError):
        parse_ocmf(text, strict=True)


def _without(key: str) -> dict[str, object]:
    return {k: v for k, v in payload().items() if k != key}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_without("RD"), "RD: missing"),
        (payload([]), "RD: expected a non-empty array"),
        (payload(RD="1234"), "RD: expected a non-empty array"),
        (payload(RD=["x"]), r"RD\[0\]: expected a JSON object"),
        (payload(IS=1), "IS: expected true or false"),
        (payload(MS=12), "MS: expected a string"),
        (payload([{k: v for k, v in reading().items() if k != "TM"}]), r"RD\[0\]\.TM: missing"),
        (payload([reading(tm="2024-03-01 10:00 S")]), r"RD\[0\]\.TM: '2024-03-01 10:00 S' is not"),
        (payload([{**reading(), "RV": "12,5"}]), r"RD\[0\]\.RV: '12,5' is not a number"),
        (payload([{**reading(), "RV": True}]), r"RD\[0\]\.RV: expected a number"),
    ],
)
def test_unreadable_fields_are_refused_by_name(body: dict[str, object], message: str) -> None:
    for strict in (False, True):
        with pytest.raises(OcmfFormatError, match=message):
            parse_ocmf(_ocmf(body), strict=strict)


# Deviations the reference transparency software accepts: a warning each, never a refusal,
# unless strict (which the signer uses).
DEVIATIONS = [
    (_without("PG"), "PG: missing"),
    (payload(PG="X7"), "PG: 'X7' is not a context letter"),
    (payload(PG="T12-3"), "PG: 'T12-3' is not a context letter"),
    (payload(PG=7), "PG: the number 7 where the spec has a string"),
    (_without("IS"), "IS: missing, a transaction record"),
    (_without("IT"), "IT: missing"),
    (payload(IS="VERIFIED"), "IS: 'VERIFIED' \\(OCMF 0.1 status\\)"),
    (payload(FV=Decimal("1.0")), "FV: the number 1.0 where the spec has a string"),
    ({k: v for k, v in payload().items() if k not in ("MS", "GS")}, "MS: missing"),
    (payload(IF="RFID_PLAIN"), "IF: expected an array of strings"),
    (payload([{k: v for k, v in reading().items() if k != "ST"}]), r"RD\[0\]\.ST: missing"),
    (payload([{k: v for k, v in reading().items() if k != "RU"}]), r"RD\[0\]\.RU: missing"),
    (payload([reading(st="Q")]), r"RD\[0\]\.ST: unknown code 'Q'"),
    (payload([reading(tx="Z")]), r"RD\[0\]\.TX: unknown code 'Z'"),
    (payload([reading(ef="Ex")]), r"RD\[0\]\.EF: unknown error flag\(s\) 'x'"),
    (payload([reading(tm="2024-03-01T10:00:00,000+0100 Q")]), r"RD\[0\]\.TM: unknown time sync"),
    (payload(LC={"LU": "mOhm"}), "LC.LR: missing"),
    (payload(LC={"LR": 2}), "LC.LU: missing"),
]


@pytest.mark.parametrize(("body", "message"), DEVIATIONS)
def test_deviations_are_warnings_and_strict_refuses_them(
    body: dict[str, object], message: str
) -> None:
    document = parse_ocmf(_ocmf(body))
    matching = [w for w in document.warnings if re.match(message, w)]
    assert len(matching) == 1, document.warnings
    with pytest.raises(OcmfFormatError, match=message):
        parse_ocmf(_ocmf(body), strict=True)


def test_deviating_record_still_verifies_with_its_warnings() -> None:
    # Signed the way a KEBA wallbox signs: IS false, no IT, PG T and a number.
    key = meter_key("secp256r1")
    body = {k: v for k, v in payload().items() if k != "IT"}
    body["IS"] = False
    text = payload_json(body)
    signature = key.sign(text.encode(), ec.ECDSA(hashes.SHA256())).hex()
    result = verify_ocmf(f'OCMF|{text}|{{"SD":"{signature}"}}', public_key_hex(key))
    assert result.is_valid
    assert result.warnings == ("IT: missing, the identification type is unknown",)


def test_ocmf_01_status_in_is_reads_as_an_assignment() -> None:
    document = parse_ocmf(_ocmf(payload(IS="VERIFIED", IL=None)))
    identification = document.payload.identification
    assert identification is not None
    assert identification.assigned is True and identification.level == "VERIFIED"
    none = parse_ocmf(_ocmf(payload(IS="NONE", IL=None))).payload.identification
    assert none is not None and none.assigned is False


def test_odd_pagination_keeps_its_text_and_no_number() -> None:
    pagination = parse_ocmf(_ocmf(payload(PG="T12-3"))).payload.pagination
    assert pagination.number is None and str(pagination) == "T12-3"


def test_duplicate_keys_in_the_payload_are_refused() -> None:
    text = payload_json(payload())
    doubled = text.replace('"PG":"T7"', '"PG":"T7","PG":"T8"')
    with pytest.raises(OcmfFormatError, match="PG: the key appears twice"):
        parse_ocmf(_ocmf(doubled))


def test_unknown_algorithm_in_a_real_record_is_a_format_error() -> None:
    record = json.dumps({"SA": "ECDSA-secp256r1-SHA1", "SD": "3045"})
    with pytest.raises(
        OcmfFormatError, match="SA: unknown signature algorithm 'ECDSA-secp256r1-SHA1'"
    ):
        verify_ocmf(_ocmf(payload(), record), public_key_hex(meter_key("secp256r1")))
