"""Every form meters publish keys and signatures in, on every curve, with the hash the SA names.

Signatures here are made with `cryptography` (and, for secp192k1, the `ecdsa` package) directly,
then re-encoded the way real meters write them.
"""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from ecdsa import SigningKey

from evbill.metering.ocmf import (
    MeterKey,
    OcmfKeyError,
    Verdict,
    payload_json,
    read_meter_key,
    verify_ocmf,
)
from evbill.metering.ocmf_keys import secp192k1

from .ocmf_support import payload

TEXT = payload_json(payload())
SIZES = {
    "secp192k1": 24,
    "secp192r1": 24,
    "secp256k1": 32,
    "secp256r1": 32,
    "secp384r1": 48,
    "brainpoolP256r1": 32,
    "brainpoolP384r1": 48,
}
OPENSSL = {
    "secp192r1": ec.SECP192R1(),
    "secp256k1": ec.SECP256K1(),
    "secp256r1": ec.SECP256R1(),
    "secp384r1": ec.SECP384R1(),
    "brainpoolP256r1": ec.BrainpoolP256R1(),
    "brainpoolP384r1": ec.BrainpoolP384R1(),
}


class Signer:
    """A meter key on one curve that signs (r, s) over the payload with a named hash."""

    def __init__(self, curve: str) -> None:
        self.curve = curve
        if curve == "secp192k1":
            self._ecdsa = SigningKey.from_secret_exponent(0xC0FFEE1234, curve=secp192k1())
            self.point = b"\x04" + bytes(self._ecdsa.get_verifying_key().to_string())
        else:
            self._key = ec.derive_private_key(0xC0FFEE1234, OPENSSL[curve])
            self.point = self._key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )

    def rs(self, text: str, hash_name: str = "SHA256") -> tuple[int, int]:
        if self.curve == "secp192k1":
            digest = hashlib.new(hash_name.lower(), text.encode()).digest()
            sig = self._ecdsa.sign_digest_deterministic(
                digest, hashfunc=hashlib.sha256, sigencode=lambda r, s, _o: (r, s),
                allow_truncate=True,
            )  # fmt: skip
            return int(sig[0]), int(sig[1])
        algorithm = hashes.SHA384() if hash_name == "SHA384" else hashes.SHA256()
        r, s = decode_dss_signature(self._key.sign(text.encode(), ec.ECDSA(algorithm)))
        return r, s

    def spki_hex(self) -> str:
        return MeterKey(self.curve, self.point).hex()


def _int(value: int, minimal: bool = True) -> bytes:
    body = value.to_bytes((value.bit_length() + 8) // 8, "big")  # with the sign byte if needed
    body = body if minimal else b"\x00" + body  # a superfluous leading zero: non-strict DER
    return b"\x02" + bytes([len(body)]) + body


def der(r: int, s: int, minimal: bool = True) -> bytes:
    inner = _int(r, minimal) + _int(s, minimal)
    return b"\x30" + bytes([len(inner)]) + inner


def raw(r: int, s: int, size: int) -> bytes:
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def record(signature: bytes, sa: str, encoding: str = "hex", text: str = TEXT) -> str:
    data = signature.hex().upper() if encoding == "hex" else base64.b64encode(signature).decode()
    return f"OCMF|{text}|{json.dumps({'SA': sa, 'SE': encoding, 'SD': data})}"


@pytest.mark.parametrize("curve", list(SIZES))
def test_every_curve_verifies_and_a_changed_payload_does_not(curve: str) -> None:
    signer = Signer(curve)
    sa = f"ECDSA-{curve}-SHA256"
    r, s = signer.rs(TEXT)
    result = verify_ocmf(record(der(r, s), sa), signer.spki_hex())
    assert result.verdict is Verdict.VALID, result.reason
    assert result.warnings == ()
    changed = record(der(r, s), sa, text=TEXT.replace('"RV":1234.56', '"RV":1234.57'))
    assert verify_ocmf(changed, signer.spki_hex()).verdict is Verdict.INVALID


@pytest.mark.parametrize("curve", ["secp384r1", "brainpoolP384r1"])
def test_the_hash_is_the_one_the_sa_names(curve: str) -> None:
    signer = Signer(curve)
    r, s = signer.rs(TEXT, "SHA384")
    assert verify_ocmf(record(der(r, s), f"ECDSA-{curve}-SHA384"), signer.spki_hex()).is_valid
    wrong = verify_ocmf(record(der(r, s), f"ECDSA-{curve}-SHA256"), signer.spki_hex())
    assert wrong.verdict is Verdict.INVALID


def test_the_spec_spelling_brainpool256r1_is_the_same_curve() -> None:
    signer = Signer("brainpoolP256r1")
    r, s = signer.rs(TEXT)
    assert verify_ocmf(record(der(r, s), "ECDSA-brainpool256r1-SHA256"), signer.spki_hex()).is_valid


def _key_forms(signer: Signer) -> dict[str, str | bytes]:
    spki = bytes.fromhex(signer.spki_hex())
    pem = (
        "-----BEGIN PUBLIC KEY-----\n"
        + base64.encodebytes(spki).decode()
        + "-----END PUBLIC KEY-----\n"
    )
    return {
        "DER hex upper": spki.hex().upper(),
        "DER hex lower, spaced": " ".join(
            spki.hex()[i : i + 8] for i in range(0, len(spki.hex()), 8)
        ),
        "DER hex 0x": "0x" + spki.hex(),
        "DER base64": base64.b64encode(spki).decode(),
        "DER bytes": spki,
        "PEM": pem,
        "PEM bytes": pem.encode(),
        "point 04 hex": signer.point.hex(),
        "point without 04 hex": signer.point[1:].hex().upper(),
        "point without 04 base64": base64.b64encode(signer.point[1:]).decode(),
        "point without 04 bytes": signer.point[1:],
    }


@pytest.mark.parametrize("curve", ["secp256r1", "secp384r1", "brainpoolP384r1", "secp192k1"])
def test_every_key_form_reads_to_the_same_key_and_verifies(curve: str) -> None:
    signer = Signer(curve)
    r, s = signer.rs(TEXT)
    ocmf = record(der(r, s), f"ECDSA-{curve}-SHA256")
    for name, form in _key_forms(signer).items():
        assert read_meter_key(form, curve) == MeterKey(curve, signer.point), name
        assert verify_ocmf(ocmf, form).is_valid, name


def test_bare_points_without_an_sa_curve_are_read_by_size() -> None:
    p256, p384 = Signer("secp256r1"), Signer("secp384r1")
    assert read_meter_key(p256.point[1:].hex()).curve == "secp256r1"  # 64 bytes
    assert read_meter_key(p384.point[1:].hex()).curve == "secp384r1"  # 96 bytes
    with pytest.raises(OcmfKeyError, match="curve can be told"):
        read_meter_key(Signer("secp192r1").point[1:].hex())  # 48 bytes: 192-bit, which one?


def test_compressed_point_reads_as_the_uncompressed_one() -> None:
    signer = Signer("secp256r1")
    x, y = signer.point[1:33], signer.point[33:]
    compressed = bytes([2 + (y[-1] & 1)]) + x
    assert read_meter_key(compressed.hex(), "secp256r1") == MeterKey("secp256r1", signer.point)


def test_a_bare_point_of_another_size_is_an_invalid_verdict_not_a_crash() -> None:
    p256 = Signer("secp256r1")
    p384 = Signer("secp384r1")
    r, s = p384.rs(TEXT)
    result = verify_ocmf(record(der(r, s), "ECDSA-secp384r1-SHA256"), p256.point[1:].hex())
    assert result.verdict is Verdict.INVALID and "does not fit secp384r1" in result.reason


def test_a_key_on_another_curve_is_invalid_with_the_reason() -> None:
    k1, r1 = Signer("secp256k1"), Signer("secp256r1")
    r, s = k1.rs(TEXT)
    result = verify_ocmf(record(der(r, s), "ECDSA-secp256k1-SHA256"), r1.spki_hex())
    assert result.verdict is Verdict.INVALID
    assert (
        result.reason
        == "public key is on curve secp256r1, SA ECDSA-secp256k1-SHA256 needs secp256k1"
    )


@pytest.mark.parametrize("curve", ["secp256r1", "secp192k1"])
def test_a_point_off_the_curve_is_refused(curve: str) -> None:
    signer = Signer(curve)
    off = signer.point[:-1] + bytes([signer.point[-1] ^ 1])
    with pytest.raises(OcmfKeyError, match=f"not on {curve}"):
        read_meter_key(off.hex(), curve)


def test_secp192k1_key_round_trips_through_its_subject_public_key_info() -> None:
    signer = Signer("secp192k1")
    spki = signer.spki_hex()
    assert spki.startswith("3046301006072A8648CE3D020106052B8104001F0332000")
    assert read_meter_key(spki) == MeterKey("secp192k1", signer.point)


@pytest.mark.parametrize("curve", ["secp256r1", "secp192r1", "secp192k1", "brainpoolP384r1"])
def test_signature_forms_der_non_strict_der_and_raw_in_hex_and_base64(curve: str) -> None:
    signer = Signer(curve)
    sa = f"ECDSA-{curve}-SHA256"
    r, s = signer.rs(TEXT)
    forms = {
        "der": (der(r, s), None),
        "non-strict der": (der(r, s, minimal=False), "SD: DER with non-minimal or unsigned"),
        "raw": (raw(r, s, SIZES[curve]), "SD: the bare r‖s pair"),
    }
    for name, (signature, warning) in forms.items():
        for encoding in ("hex", "base64"):
            result = verify_ocmf(record(signature, sa, encoding), signer.spki_hex())
            assert result.is_valid, (name, encoding, result.reason)
            sd_warnings = [w for w in result.warnings if w.startswith("SD")]
            if warning is None:
                assert sd_warnings == [], name
            else:
                assert len(sd_warnings) == 1 and sd_warnings[0].startswith(warning), name
        other = raw(s, r, SIZES[curve]) if name == "raw" else der(s, r, name == "der")
        assert verify_ocmf(record(other, sa), signer.spki_hex()).verdict is Verdict.INVALID


def test_unsigned_integers_as_ebz_writes_them_verify_with_a_warning() -> None:
    signer = Signer("secp256r1")
    for attempt in range(64):  # find a signature whose r has its top bit set
        text = payload_json(payload(pg=f"T{attempt}"))
        r, s = signer.rs(text)
        if r >> 255:
            break
    else:
        pytest.fail("no signature with the top bit of r set")
    r_bytes = r.to_bytes(32, "big")  # no 00 sign byte: a negative INTEGER in strict DER
    s_bytes = b"\x00" + s.to_bytes(32, "big")  # a zero byte too many
    inner = b"\x02\x20" + r_bytes + b"\x02" + bytes([len(s_bytes)]) + s_bytes
    signature = b"\x30" + bytes([len(inner)]) + inner
    result = verify_ocmf(record(signature, "ECDSA-secp256r1-SHA256", text=text), signer.spki_hex())
    assert result.is_valid
    assert any(w.startswith("SD: DER with non-minimal or unsigned") for w in result.warnings)


@pytest.mark.parametrize(
    "signature", [b"\x30\x02\x02\x00", b"\x01" * 63, b"\x30\x06\x02\x01\x01\x02\x01"]
)
def test_signature_bytes_that_are_neither_der_nor_r_s_are_invalid(signature: bytes) -> None:
    signer = Signer("secp256r1")
    result = verify_ocmf(record(signature, "ECDSA-secp256r1-SHA256"), signer.spki_hex())
    assert result.verdict is Verdict.INVALID
    assert (
        result.reason.startswith("SD: ")
        and "neither a DER ECDSA signature nor r‖s" in result.reason
    )


def test_zero_or_out_of_range_values_never_verify() -> None:
    signer = Signer("secp192k1")
    order = secp192k1().order
    for r, s in ((0, 1), (1, 0), (order, 1), (1, order)):
        result = verify_ocmf(record(raw(r, s, 24), "ECDSA-secp192k1-SHA256"), signer.spki_hex())
        assert result.verdict is Verdict.INVALID
