"""OCMF signature algorithms, meter keys, and the ECDSA check and signature over a payload text.

The hash is taken from the algorithm's name, never from the key's size, so the two 384-bit
entries (SHA-256 as the spec lists them, SHA-384 as some implementations use) stay distinct.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

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

# Curves by their canonical name; None where OpenSSL has no implementation (secp192k1).
_CURVES: Final[dict[str, type[ec.EllipticCurve] | None]] = {
    "secp192k1": None,
    "secp256k1": ec.SECP256K1,
    "secp192r1": ec.SECP192R1,
    "secp256r1": ec.SECP256R1,
    "secp384r1": ec.SECP384R1,
    "brainpoolP256r1": ec.BrainpoolP256R1,
    "brainpoolP384r1": ec.BrainpoolP384R1,
}
# The spec writes "brainpool256r1"; stations and libraries write "brainpoolP256r1".
_CURVE_ALIASES: Final = {
    "brainpool256r1": "brainpoolP256r1",
    "brainpool384r1": "brainpoolP384r1",
    "prime256v1": "secp256r1",
    "P-256": "secp256r1",
    "P-384": "secp384r1",
}

#: Curves a key can be generated on here (every curve of the OCMF list that OpenSSL offers).
SUPPORTED_CURVES: Final = tuple(name for name, cls in _CURVES.items() if cls is not None)


@dataclass(frozen=True, slots=True)
class SignatureAlgorithm:
    """One SA value: ECDSA on a named curve with a named hash."""

    identifier: str  # SA as written
    curve: str  # canonical curve name, e.g. "brainpoolP256r1"
    hash_name: str  # "SHA256" or "SHA384"

    @property
    def supported(self) -> bool:
        """False for curves OpenSSL (and so `cryptography`) does not implement."""
        return _CURVES[self.curve] is not None

    def hash(self) -> hashes.HashAlgorithm:
        return hashes.SHA384() if self.hash_name == "SHA384" else hashes.SHA256()


def _algorithms() -> dict[str, SignatureAlgorithm]:
    table: dict[str, SignatureAlgorithm] = {}
    # Table 22 of the spec: every curve with SHA-256, both brainpool spellings.
    spelled = [*_CURVES, "brainpool256r1", "brainpool384r1"]
    for name in spelled:
        ident = f"ECDSA-{name}-SHA256"
        table[ident] = SignatureAlgorithm(ident, _CURVE_ALIASES.get(name, name), "SHA256")
    # Not in table 22: SHA-384 on the 384-bit curves, accepted because implementations use it.
    for name in ("secp384r1", "brainpoolP384r1", "brainpool384r1"):
        ident = f"ECDSA-{name}-SHA384"
        table[ident] = SignatureAlgorithm(ident, _CURVE_ALIASES.get(name, name), "SHA384")
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
    canonical = _CURVE_ALIASES.get(name, name)
    if canonical not in _CURVES:
        raise OcmfKeyError(f"curve: unknown curve {name!r} (known: {', '.join(_CURVES)})")
    cls = _CURVES[canonical]
    if cls is None:
        raise OcmfUnsupportedAlgorithm(f"curve: {canonical} is not available in OpenSSL")
    return cls()


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


_HEX = re.compile(r"[0-9A-Fa-f]+")


def _public_key_der(text: str) -> bytes:
    compact = "".join(text.split())
    if compact.startswith("0x"):
        compact = compact[2:]
    if _HEX.fullmatch(compact) and len(compact) % 2 == 0:
        return bytes.fromhex(compact)
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise OcmfKeyError(
            "public key: neither hex nor base64 DER SubjectPublicKeyInfo nor PEM"
        ) from None


def load_public_key(key: str | bytes) -> ec.EllipticCurvePublicKey:
    """Read a meter's public key: DER SubjectPublicKeyInfo as hex (spaces allowed), base64, PEM,
    or raw DER bytes."""
    if isinstance(key, bytes):
        der, pem = key, key.lstrip().startswith(b"-----BEGIN")
    else:
        pem = key.lstrip().startswith("-----BEGIN")
        der = key.encode("ascii", "replace") if pem else _public_key_der(key)
    try:
        if pem:
            loaded = serialization.load_pem_public_key(der)
        else:
            loaded = serialization.load_der_public_key(der)
    except UnsupportedAlgorithm as exc:
        raise OcmfUnsupportedAlgorithm(f"public key: {exc}") from None
    except ValueError as exc:
        raise OcmfKeyError(f"public key: not a readable SubjectPublicKeyInfo ({exc})") from None
    if not isinstance(loaded, ec.EllipticCurvePublicKey):
        raise OcmfKeyError("public key: not an elliptic-curve key")
    return loaded


def ecdsa_verify(
    algorithm: SignatureAlgorithm,
    public_key: ec.EllipticCurvePublicKey,
    signature_der: bytes,
    signed_text: str,
) -> str | None:
    """Check a DER signature over the UTF-8 bytes of `signed_text`; None when it verifies,
    otherwise the reason it does not."""
    if public_key.curve.name != algorithm.curve:
        return (
            f"public key is on curve {public_key.curve.name}, "
            f"SA {algorithm.identifier} needs {algorithm.curve}"
        )
    try:
        public_key.verify(signature_der, signed_text.encode("utf-8"), ec.ECDSA(algorithm.hash()))
    except InvalidSignature:
        return "signature does not match the payload and public key"
    return None


def ecdsa_sign(
    algorithm: SignatureAlgorithm, private_key: ec.EllipticCurvePrivateKey, text: str
) -> bytes:
    """A deterministic (RFC 6979) DER signature over the UTF-8 bytes of `text`."""
    if not algorithm.supported:
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
