"""OCMF signature algorithms, meter keys, and the ECDSA check and signature over a payload text.

The hash is taken from the algorithm's name, never from the key's size, so the two 384-bit
entries (SHA-256 as the spec lists them, SHA-384 as some implementations use) stay distinct.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from evbill.metering.ocmf_der import SignatureValues
from evbill.metering.ocmf_keys import (
    CURVE_SIZES,
    MeterKey,
    canonical_curve,
    openssl_curve,
    read_meter_key,
    secp192k1,
)
from evbill.metering.ocmf_model import OcmfFormatError, OcmfKeyError, OcmfUnsupportedAlgorithm

__all__ = [
    "ALGORITHMS",
    "DEFAULT_ALGORITHM",
    "SUPPORTED_CURVES",
    "SignatureAlgorithm",
    "algorithm_for",
    "derive_private_key",
    "ecdsa_sign",
    "ecdsa_verify",
    "generate_private_key",
    "load_private_key_pem",
    "load_public_key",
    "private_key_pem",
    "public_key_hex",
]

#: SA when the station leaves it out (default since OCMF 0.4).
DEFAULT_ALGORITHM: Final = "ECDSA-secp256r1-SHA256"

#: Curves a key can be generated and signed on here (every OCMF curve OpenSSL offers); all
#: curves in ALGORITHMS verify, secp192k1 through the pure-Python `ecdsa` package.
SUPPORTED_CURVES: Final = tuple(name for name in CURVE_SIZES if openssl_curve(name) is not None)


@dataclass(frozen=True, slots=True)
class SignatureAlgorithm:
    """One SA value: ECDSA on a named curve with a named hash."""

    identifier: str  # SA as written
    curve: str  # canonical curve name, e.g. "brainpoolP256r1"
    hash_name: str  # "SHA256" or "SHA384"

    @property
    def openssl(self) -> bool:
        """False for curves OpenSSL (and so `cryptography`) lacks: they verify, never sign."""
        return openssl_curve(self.curve) is not None

    @property
    def coordinate_size(self) -> int:
        return CURVE_SIZES[self.curve]

    def hash(self) -> hashes.HashAlgorithm:
        return hashes.SHA384() if self.hash_name == "SHA384" else hashes.SHA256()


def _algorithms() -> dict[str, SignatureAlgorithm]:
    table: dict[str, SignatureAlgorithm] = {}
    # Table 22 of the spec: every curve with SHA-256, both brainpool spellings.
    spelled = [*CURVE_SIZES, "brainpool256r1", "brainpool384r1"]
    for name in spelled:
        ident = f"ECDSA-{name}-SHA256"
        table[ident] = SignatureAlgorithm(ident, canonical_curve(name), "SHA256")
    # Not in table 22: SHA-384 on the 384-bit curves, accepted because implementations use it.
    for name in ("secp384r1", "brainpoolP384r1", "brainpool384r1"):
        ident = f"ECDSA-{name}-SHA384"
        table[ident] = SignatureAlgorithm(ident, canonical_curve(name), "SHA384")
    return table


#: Every SA value this module knows, by identifier.
ALGORITHMS: Final[dict[str, SignatureAlgorithm]] = _algorithms()


def algorithm_for(identifier: str) -> SignatureAlgorithm:
    """The SA entry for an identifier; an unknown identifier is a format error."""
    try:
        return ALGORITHMS[identifier]
    except KeyError:
        known = ", ".join(sorted(ALGORITHMS))
        raise OcmfFormatError(
            f"SA: unknown signature algorithm {identifier!r} (known: {known})"
        ) from None


def _curve(name: str) -> ec.EllipticCurve:
    canonical = canonical_curve(name)
    curve = openssl_curve(canonical)
    if curve is None:
        raise OcmfUnsupportedAlgorithm(f"curve: {canonical} is not available in OpenSSL")
    return curve


def generate_private_key(curve: str = "secp256r1") -> ec.EllipticCurvePrivateKey:
    """A fresh random key pair on the named curve (draws on the OS's entropy)."""
    return ec.generate_private_key(_curve(curve))


def derive_private_key(curve: str, seed: bytes) -> ec.EllipticCurvePrivateKey:
    """A reproducible key pair from a seed, for tests and simulated stations (not real meters)."""
    crv = _curve(curve)
    digest = hashlib.sha512(b"evbill-ocmf-key|" + curve.encode() + b"|" + seed).digest()
    # One bit fewer than the curve order keeps the scalar below the order on every listed curve.
    scalar = int.from_bytes(digest, "big") % (1 << (crv.key_size - 1))
    return ec.derive_private_key(scalar or 1, crv)


def public_key_hex(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> str:
    """The public key as upper-case hex of its DER SubjectPublicKeyInfo, as meters publish it."""
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return der.hex().upper()


def private_key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    """The private key as unencrypted PKCS#8 PEM, for a simulator's key file."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def load_private_key_pem(text: str | bytes) -> ec.EllipticCurvePrivateKey:
    """Read an unencrypted PEM private key; anything but an EC key is refused."""
    data = text.encode("ascii") if isinstance(text, str) else text
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise OcmfKeyError(f"private key: not a readable PEM private key ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise OcmfKeyError("private key: not an elliptic-curve key")
    return key


def load_public_key(key: str | bytes) -> ec.EllipticCurvePublicKey:
    """Read a meter's public key for `cryptography`: DER SubjectPublicKeyInfo as hex (spaces
    allowed), base64, PEM, or raw DER bytes. A key on secp192k1 raises OcmfUnsupportedAlgorithm
    (use `read_meter_key`, which reads every form on every OCMF curve)."""
    meter_key = read_meter_key(key)
    public = meter_key.openssl
    if public is None:
        raise OcmfUnsupportedAlgorithm(f"public key: {meter_key.curve} is not available in OpenSSL")
    return public


def _in_range(value: int, order: int) -> bool:
    return 0 < value < order


def ecdsa_verify(
    algorithm: SignatureAlgorithm, key: MeterKey, signature: SignatureValues, signed_text: str
) -> str | None:
    """Check (r, s) over the UTF-8 bytes of `signed_text`; None when it verifies, otherwise the
    reason it does not."""
    if key.curve != algorithm.curve:
        return (
            f"public key is on curve {key.curve}, SA {algorithm.identifier} needs {algorithm.curve}"
        )
    message = signed_text.encode("utf-8")
    public = key.openssl
    if public is not None:
        try:
            der = encode_dss_signature(signature.r, signature.s)
            public.verify(der, message, ec.ECDSA(algorithm.hash()))
        except (InvalidSignature, ValueError):
            return "signature does not match the payload and public key"
        return None
    return _verify_without_openssl(algorithm, key, signature, message)


def _verify_without_openssl(
    algorithm: SignatureAlgorithm, key: MeterKey, signature: SignatureValues, message: bytes
) -> str | None:
    from ecdsa import BadSignatureError, VerifyingKey

    curve = secp192k1()
    if not (_in_range(signature.r, curve.order) and _in_range(signature.s, curve.order)):
        return "signature does not match the payload and public key"
    digest = hashlib.new(algorithm.hash_name.lower(), message).digest()
    verifying = VerifyingKey.from_string(key.point, curve=curve)
    try:
        verifying.verify_digest(
            (signature.r, signature.s), digest, sigdecode=_as_pair, allow_truncate=True
        )
    except BadSignatureError:
        return "signature does not match the payload and public key"
    return None


def _as_pair(pair: tuple[int, int], _order: int) -> tuple[int, int]:
    return pair


def ecdsa_sign(
    algorithm: SignatureAlgorithm, private_key: ec.EllipticCurvePrivateKey, text: str
) -> bytes:
    """A deterministic (RFC 6979) DER signature over the UTF-8 bytes of `text`."""
    if not algorithm.openssl:
        raise OcmfUnsupportedAlgorithm(
            f"SA: {algorithm.identifier} uses {algorithm.curve}, which OpenSSL does not offer"
        )
    if private_key.curve.name != algorithm.curve:
        raise OcmfKeyError(
            f"private key is on curve {private_key.curve.name}, "
            f"SA {algorithm.identifier} needs {algorithm.curve}"
        )
    return private_key.sign(
        text.encode("utf-8"), ec.ECDSA(algorithm.hash(), deterministic_signing=True)
    )
