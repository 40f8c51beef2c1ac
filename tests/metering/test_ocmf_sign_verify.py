"""Sign → verify round trips on every required curve and encoding; any change breaks the seal."""

from __future__ import annotations

import base64
import json
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evbill.metering.ocmf import (
    ALGORITHMS,
    SUPPORTED_CURVES,
    OcmfFormatError,
    OcmfKeyError,
    OcmfSignatureError,
    OcmfUnsupportedAlgorithm,
    Verdict,
    derive_private_key,
    generate_private_key,
    load_private_key_pem,
    load_public_key,
    parse_ocmf,
    private_key_pem,
    public_key_hex,
    sign_ocmf,
    verify_ocmf,
)

from .ocmf_support import REQUIRED_ALGORITHMS, meter_key, payload, reading

CASES = [
    (curve, algorithm, encoding)
    for curve, algorithm in REQUIRED_ALGORITHMS.items()
    for encoding in ("hex", "base64")
]
KEYS = {curve: meter_key(curve) for curve in REQUIRED_ALGORITHMS}
OTHER_KEYS = {curve: meter_key(curve, b"meter-2") for curve in REQUIRED_ALGORITHMS}


def _sections(ocmf: str) -> tuple[str, str, str]:
    header, body, signature = ocmf.split("|")
    return header, body, signature


@pytest.mark.parametrize(("curve", "algorithm", "encoding"), CASES)
def test_signed_record_verifies(curve: str, algorithm: str, encoding: str) -> None:
    ocmf = sign_ocmf(payload(), KEYS[curve], algorithm=algorithm, encoding=encoding)
    result = verify_ocmf(ocmf, public_key_hex(KEYS[curve]))
    assert result.verdict is Verdict.VALID, result.reason
    assert result.raise_for_verdict() is result
    signature = json.loads(_sections(ocmf)[2])
    assert signature["SA"] == algorithm and signature["SE"] == encoding
    assert result.document.signature.encoding == encoding
    assert result.meter.serial == "EVB-0001"


@pytest.mark.parametrize(("curve", "algorithm", "encoding"), CASES)
def test_wrong_key_on_the_same_curve_is_invalid(curve: str, algorithm: str, encoding: str) -> None:
    ocmf = sign_ocmf(payload(), KEYS[curve], algorithm=algorithm, encoding=encoding)
    result = verify_ocmf(ocmf, public_key_hex(OTHER_KEYS[curve]))
    assert result.verdict is Verdict.INVALID
    with pytest.raises(OcmfSignatureError, match="SD: signature does not match"):
        result.raise_for_verdict()


def test_key_on_another_curve_of_the_same_size_is_invalid() -> None:
    ocmf = sign_ocmf(payload(), KEYS["brainpoolP256r1"], algorithm="ECDSA-brainpoolP256r1-SHA256")
    result = verify_ocmf(ocmf, public_key_hex(KEYS["secp256r1"]))
    assert result.verdict is Verdict.INVALID
    assert "brainpoolP256r1" in result.reason and "secp256r1" in result.reason


def test_the_384_bit_hashes_do_not_stand_in_for_each_other() -> None:
    key = KEYS["secp384r1"]
    signed = sign_ocmf(payload(), key, algorithm="ECDSA-secp384r1-SHA384")
    assert verify_ocmf(signed, public_key_hex(key)).verdict is Verdict.VALID
    relabelled = signed.replace("ECDSA-secp384r1-SHA384", "ECDSA-secp384r1-SHA256")
    assert verify_ocmf(relabelled, public_key_hex(key)).verdict is Verdict.INVALID


def _flip_signature_byte(ocmf: str, index: int, mask: int) -> str:
    header, body, signature_text = _sections(ocmf)
    signature = json.loads(signature_text)
    raw = bytearray(
        bytes.fromhex(signature["SD"])
        if signature["SE"] == "hex"
        else base64.b64decode(signature["SD"])
    )
    raw[index % len(raw)] ^= mask
    signature["SD"] = (
        raw.hex().upper() if signature["SE"] == "hex" else base64.b64encode(raw).decode()
    )
    return f"{header}|{body}|{json.dumps(signature)}"


SIGNED = {
    case: sign_ocmf(payload(), KEYS[case[0]], algorithm=case[1], encoding=case[2]) for case in CASES
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case=st.sampled_from(CASES),
    index=st.integers(min_value=0, max_value=200),
    mask=st.integers(min_value=1, max_value=255),
)
def test_any_changed_signature_byte_is_invalid(
    case: tuple[str, str, str], index: int, mask: int
) -> None:
    tampered = _flip_signature_byte(SIGNED[case], index, mask)
    assert verify_ocmf(tampered, public_key_hex(KEYS[case[0]])).verdict is Verdict.INVALID


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case=st.sampled_from(CASES),
    position=st.integers(min_value=0, max_value=10_000),
    replacement=st.characters(codec="ascii", exclude_characters="|"),
)
def test_any_changed_payload_character_never_verifies(
    case: tuple[str, str, str], position: int, replacement: str
) -> None:
    header, body, signature = _sections(SIGNED[case])
    position %= len(body)
    if body[position] == replacement:
        replacement = "0" if replacement != "0" else "1"
    changed = body[:position] + replacement + body[position + 1 :]
    try:
        result = verify_ocmf(f"{header}|{changed}|{signature}", public_key_hex(KEYS[case[0]]))
    except OcmfFormatError:
        return  # the change broke the JSON or a field: refused before any signature check
    assert result.verdict is Verdict.INVALID


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ('"RV":1234.56', '"RV":1234.57'),
        ('"RV":1234.56', '"RV":1234.560'),  # same number, different digits: still a change
        ('"MS":"EVB-0001"', '"MS":"EVB-0002"'),
        ('"PG":"T7"', '"PG":"T8"'),
        ('"FV":"1.0",', '"FV":"1.0", '),  # whitespace is signed too
    ],
)
def test_meaningful_payload_edits_are_invalid(before: str, after: str) -> None:
    key = KEYS["secp256r1"]
    signed = sign_ocmf(payload(), key)
    assert before in signed
    assert (
        verify_ocmf(signed.replace(before, after), public_key_hex(key)).verdict is Verdict.INVALID
    )


def test_signing_is_deterministic_and_the_payload_is_kept_verbatim() -> None:
    key = KEYS["secp256r1"]
    body = payload([reading(rv=Decimal("0.2500"))])
    first, second = sign_ocmf(body, key), sign_ocmf(body, key)
    assert first == second
    assert '"RV":0.2500,' in first
    assert parse_ocmf(first).readings[0].value == Decimal("0.2500")


def test_every_curve_openssl_offers_signs_and_verifies() -> None:
    for identifier, spec in ALGORITHMS.items():
        if not spec.openssl:
            continue
        key = derive_private_key(spec.curve, b"all")
        assert verify_ocmf(
            sign_ocmf(payload(), key, algorithm=identifier), public_key_hex(key)
        ).is_valid
    assert set(SUPPORTED_CURVES) >= set(REQUIRED_ALGORITHMS)


def test_unsupported_curve_cannot_sign() -> None:
    with pytest.raises(OcmfUnsupportedAlgorithm, match="secp192k1"):
        generate_private_key("secp192k1")
    with pytest.raises(OcmfUnsupportedAlgorithm, match="secp192k1"):
        sign_ocmf(payload(), KEYS["secp256r1"], algorithm="ECDSA-secp192k1-SHA256")


def test_signer_refuses_a_key_that_does_not_fit_the_algorithm() -> None:
    with pytest.raises(OcmfKeyError, match="secp384r1"):
        sign_ocmf(payload(), KEYS["secp256r1"], algorithm="ECDSA-secp384r1-SHA256")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            payload(RD=[{"TM": "2024-03-01T10:00:00,000+0100 S", "RV": Decimal(1), "RU": "kWh"}]),
            "ST",
        ),
        ({k: v for k, v in payload().items() if k != "PG"}, "PG: missing"),
        (payload(GI="a|b"), r"payload.GI: '\|'"),
        (payload([reading(rv=1.5)]), "float"),  # type: ignore[arg-type]
        (payload([reading(rv=Decimal("NaN"))]), "finite"),
    ],
)
def test_signer_refuses_a_nonconforming_payload(body: dict[str, object], message: str) -> None:
    with pytest.raises(OcmfFormatError, match=message):
        sign_ocmf(body, KEYS["secp256r1"])


def test_signer_refuses_an_unknown_encoding_or_algorithm() -> None:
    with pytest.raises(OcmfFormatError, match="SE: unknown"):
        sign_ocmf(payload(), KEYS["secp256r1"], encoding="base32")
    with pytest.raises(OcmfFormatError, match="SA: unknown"):
        sign_ocmf(payload(), KEYS["secp256r1"], algorithm="RSA-SHA256")


def test_public_key_formats_hex_base64_pem_and_der_all_load() -> None:
    key = KEYS["brainpoolP384r1"].public_key()
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    spaced = " ".join(der.hex()[i : i + 4] for i in range(0, len(der.hex()), 4))
    ocmf = sign_ocmf(payload(), KEYS["brainpoolP384r1"], algorithm="ECDSA-brainpoolP384r1-SHA256")
    for form in (der.hex(), der.hex().upper(), spaced, base64.b64encode(der).decode(), pem, der):
        assert load_public_key(form) == key
        assert verify_ocmf(ocmf, form).is_valid
    assert public_key_hex(key) == der.hex().upper()


@pytest.mark.parametrize("bad", ["", "zz", "3059", "not a key at all!", "MFYwEAYH"])
def test_unreadable_public_key_is_a_key_error(bad: str) -> None:
    with pytest.raises(OcmfKeyError, match="public key"):
        load_public_key(bad)


def test_private_key_pem_round_trip_and_refusals() -> None:
    key = generate_private_key("secp384r1")
    assert public_key_hex(load_private_key_pem(private_key_pem(key))) == public_key_hex(key)
    with pytest.raises(OcmfKeyError, match="private key"):
        load_private_key_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")


def test_derived_keys_are_reproducible_and_distinct_per_seed() -> None:
    assert public_key_hex(derive_private_key("secp256r1", b"a")) == public_key_hex(
        derive_private_key("secp256r1", b"a")
    )
    assert public_key_hex(derive_private_key("secp256r1", b"a")) != public_key_hex(
        derive_private_key("secp256r1", b"b")
    )
    with pytest.raises(OcmfKeyError, match="unknown curve"):
        derive_private_key("curve25519", b"a")
