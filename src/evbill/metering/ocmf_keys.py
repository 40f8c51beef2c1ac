"""Meters' public keys in every form they are published in, on every curve OCMF names.

A key arrives as DER SubjectPublicKeyInfo (hex, with or without spaces, or base64), as PEM, as
raw DER bytes, or as the bare point: 04‖X‖Y, or X‖Y without the 04 prefix (Isabellenhütte
publishes 64 bytes for P-256). A bare point names no curve, so it is read on the curve of the
record's SA. Every point is checked to lie on its curve before it is used.

secp192k1 (HTB meters) is not in OpenSSL's list as `cryptography` builds it; it is handled by
the pure-Python `ecdsa` package with the SEC 2 domain parameters below.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from evbill.metering.ocmf_der import read_spki
from evbill.metering.ocmf_model import OcmfKeyError

__all__ = [
    "CURVE_SIZES",
    "ForeignCurveKey",
    "MeterKey",
    "canonical_curve",
    "openssl_curve",
    "read_meter_key",
    "secp192k1",
]

#: Coordinate size in bytes of every curve the OCMF list names (and secp256k1's twins).
CURVE_SIZES: Final = {
    "secp192k1": 24,
    "secp192r1": 24,
    "secp256k1": 32,
    "secp256r1": 32,
    "secp384r1": 48,
    "brainpoolP256r1": 32,
    "brainpoolP384r1": 48,
}
_OPENSSL: Final[dict[str, type[ec.EllipticCurve]]] = {
    "secp192r1": ec.SECP192R1,
    "secp256k1": ec.SECP256K1,
    "secp256r1": ec.SECP256R1,
    "secp384r1": ec.SECP384R1,
    "brainpoolP256r1": ec.BrainpoolP256R1,
    "brainpoolP384r1": ec.BrainpoolP384R1,
}
_OIDS: Final = {
    "1.2.840.10045.3.1.1": "secp192r1",
    "1.2.840.10045.3.1.7": "secp256r1",
    "1.3.132.0.10": "secp256k1",
    "1.3.132.0.31": "secp192k1",
    "1.3.132.0.34": "secp384r1",
    "1.3.36.3.3.2.8.1.1.7": "brainpoolP256r1",
    "1.3.36.3.3.2.8.1.1.11": "brainpoolP384r1",
}
# The spec writes "brainpool256r1"; stations and libraries write "brainpoolP256r1".
_ALIASES: Final = {
    "brainpool256r1": "brainpoolP256r1",
    "brainpool384r1": "brainpoolP384r1",
    "prime256v1": "secp256r1",
    "prime192v1": "secp192r1",
    "P-256": "secp256r1",
    "P-384": "secp384r1",
}
# secp192k1, SEC 2 version 2.0, section 2.2.1.
_K192_P: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFEE37
_K192_N: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFE26F2FC170F69466A74DEFD8D
_K192_G: Final = (
    0xDB4FF10EC057E9AE26B07D0280B7F4341DA5D1B1EAE06C7D,
    0x9B2F2F6D9C5628A7844163D015BE86344082AA88D95E2F9D,
)


class ForeignCurveKey(OcmfKeyError):
    """A readable key that cannot be the record's signer: its curve is not the SA's curve or
    not one OCMF names."""


def canonical_curve(name: str) -> str:
    """The canonical spelling of a curve name; unknown names raise OcmfKeyError."""
    canonical = _ALIASES.get(name, name)
    if canonical not in CURVE_SIZES:
        raise OcmfKeyError(f"curve: unknown curve {name!r} (known: {', '.join(CURVE_SIZES)})")
    return canonical


def openssl_curve(name: str) -> ec.EllipticCurve | None:
    """The `cryptography` curve object, or None where OpenSSL has none (secp192k1)."""
    cls = _OPENSSL.get(canonical_curve(name))
    return None if cls is None else cls()


@cache
def secp192k1() -> Any:
    """The `ecdsa` package's Curve object for secp192k1 (built once, on first use)."""
    from ecdsa.curves import Curve
    from ecdsa.ellipticcurve import CurveFp, PointJacobi

    field = CurveFp(_K192_P, 0, 3, 1)
    generator = PointJacobi(field, _K192_G[0], _K192_G[1], 1, _K192_N, generator=True)
    return Curve("SECP192k1", field, generator, (1, 3, 132, 0, 31))


@dataclass(frozen=True, slots=True)
class MeterKey:
    """A public key as a named curve and its uncompressed point 04‖X‖Y."""

    curve: str
    point: bytes

    @property
    def openssl(self) -> ec.EllipticCurvePublicKey | None:
        """The key for `cryptography`, or None on a curve OpenSSL lacks."""
        curve = openssl_curve(self.curve)
        if curve is None:
            return None
        return ec.EllipticCurvePublicKey.from_encoded_point(curve, self.point)

    def spki_der(self) -> bytes:
        """DER SubjectPublicKeyInfo, as meters publish their keys."""
        key = self.openssl
        if key is not None:
            return key.public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        # secp192k1: 1.3.132.0.31 after id-ecPublicKey; 0x32 = 50 bytes of BIT STRING.
        prefix = bytes.fromhex("3046301006072a8648ce3d020106052b8104001f033200")
        return prefix + self.point

    def hex(self) -> str:
        """Upper-case hex of the DER SubjectPublicKeyInfo."""
        return self.spki_der().hex().upper()


def _on_curve(curve: str, point: bytes) -> MeterKey:
    size = CURVE_SIZES[curve]
    if len(point) == size + 1 and point[0] in (2, 3):
        point = _decompress(curve, point)
    if len(point) != 2 * size + 1 or point[0] != 4:
        raise ForeignCurveKey(
            f"public key: {len(point)}-byte point does not fit {curve} ({2 * size + 1} bytes, 04…)"
        )
    try:
        openssl = openssl_curve(curve)
        if openssl is not None:
            ec.EllipticCurvePublicKey.from_encoded_point(openssl, point)
        else:
            from ecdsa import VerifyingKey

            VerifyingKey.from_string(point, curve=secp192k1())
    except (ValueError, AssertionError) as exc:
        raise OcmfKeyError(f"public key: the point is not on {curve} ({exc})") from None
    return MeterKey(curve, point)


def _decompress(curve: str, point: bytes) -> bytes:
    openssl = openssl_curve(curve)
    try:
        if openssl is not None:
            key = ec.EllipticCurvePublicKey.from_encoded_point(openssl, point)
            return key.public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        from ecdsa import VerifyingKey

        verifying = VerifyingKey.from_string(point, curve=secp192k1())
        return b"\x04" + bytes(verifying.to_string())
    except (ValueError, AssertionError) as exc:
        raise OcmfKeyError(f"public key: the point is not on {curve} ({exc})") from None


_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")


def _key_bytes(text: str) -> bytes:
    stripped = text.strip()
    if stripped.startswith("-----BEGIN"):
        lines = [line for line in stripped.splitlines() if not line.startswith("-----")]
        stripped = "".join(lines)
    compact = "".join(stripped.split())
    if compact[:2] in ("0x", "0X"):
        compact = compact[2:]
    if _HEX.fullmatch(compact):
        return bytes.fromhex(compact)
    try:
        decoded = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if not decoded:
        raise OcmfKeyError(
            "public key: neither hex nor base64 (DER SubjectPublicKeyInfo or raw point) nor PEM"
        )
    return decoded


def _from_der(data: bytes) -> MeterKey:
    try:
        loaded = serialization.load_der_public_key(data)
    except UnsupportedAlgorithm:
        loaded = None  # a curve OpenSSL lacks: read the SubjectPublicKeyInfo ourselves
    except ValueError:
        loaded = None
    if isinstance(loaded, ec.EllipticCurvePublicKey):
        return from_openssl(loaded)
    if loaded is not None:
        raise OcmfKeyError("public key: not an elliptic-curve key")
    spki = read_spki(data)
    curve = _OIDS.get(spki.curve_oid)
    if curve is None:
        raise ForeignCurveKey(f"public key: curve OID {spki.curve_oid} is not one OCMF names")
    return _on_curve(curve, spki.point)


def from_openssl(key: ec.EllipticCurvePublicKey) -> MeterKey:
    point = key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    name = _ALIASES.get(key.curve.name, key.curve.name)
    if name not in CURVE_SIZES:
        raise ForeignCurveKey(f"public key: curve {key.curve.name} is not one OCMF names")
    return MeterKey(name, point)


def read_meter_key(
    key: str | bytes | ec.EllipticCurvePublicKey | MeterKey, curve: str | None = None
) -> MeterKey:
    """Read a public key in any published form; `curve` (the record's SA curve) places a bare
    point. Unreadable keys and points off their curve raise OcmfKeyError."""
    if isinstance(key, MeterKey):
        return key
    if isinstance(key, ec.EllipticCurvePublicKey):
        return from_openssl(key)
    if isinstance(key, bytes) and not key.lstrip().startswith(b"-----BEGIN"):
        data = key
    else:
        text = key.decode("ascii", "replace") if isinstance(key, bytes) else key
        data = _key_bytes(text)
    if data[:1] == b"\x30":
        return _from_der(data)
    return _raw_point(data, curve)


def _raw_point(data: bytes, curve: str | None) -> MeterKey:
    if curve is not None:
        curve = canonical_curve(curve)
        size = CURVE_SIZES[curve]
        if len(data) == 2 * size:
            data = b"\x04" + data
        return _on_curve(curve, data)
    by_size = {64: "secp256r1", 65: "secp256r1", 96: "secp384r1", 97: "secp384r1"}
    guess = by_size.get(len(data))
    if guess is None:
        raise OcmfKeyError(
            f"public key: {len(data)} bytes are no SubjectPublicKeyInfo and no point whose "
            "curve can be told without the record's SA"
        )
    return _on_curve(guess, data if len(data) % 2 else b"\x04" + data)
