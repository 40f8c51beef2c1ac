"""The little DER OCMF needs: a meter's SubjectPublicKeyInfo and an ECDSA signature's (r, s).

Meters are not strict about DER: eBZ writes INTEGERs with a superfluous leading zero byte and
positive values without the sign byte, Isabellenhütte writes the bare r‖s pair. The reference
transparency software reads all of these, so this reader does too, and says which it saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from evbill.metering.ocmf_model import OcmfKeyError

__all__ = ["SignatureValues", "SubjectPublicKey", "read_signature_values", "read_spki"]

_SEQUENCE: Final = 0x30
_INTEGER: Final = 0x02
_BIT_STRING: Final = 0x03
_OID: Final = 0x06


class _DerError(ValueError):
    pass


def _element(data: bytes, pos: int) -> tuple[int, bytes, int]:
    """The DER element at `pos`: (tag, content, position just after it)."""
    if pos + 2 > len(data):
        raise _DerError("truncated")
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise _DerError("bad length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    end = pos + length
    if end > len(data):
        raise _DerError("truncated")
    return tag, data[pos:end], end


@dataclass(frozen=True, slots=True)
class SubjectPublicKey:
    """What an EC SubjectPublicKeyInfo holds: the named curve's OID and the encoded point."""

    curve_oid: str  # dotted, e.g. "1.3.132.0.31"
    point: bytes  # SEC 1 encoding: 04‖X‖Y (or 02/03‖X compressed)


def _oid_text(content: bytes) -> str:
    if not content:
        raise _DerError("empty OID")
    first, value = content[0], 0
    arcs: list[int] = list(divmod(first, 40) if first < 80 else (2, first - 80))
    for byte in content[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    return ".".join(str(arc) for arc in arcs)


def read_spki(data: bytes) -> SubjectPublicKey:
    """Read SEQUENCE { SEQUENCE { id-ecPublicKey, namedCurve }, BIT STRING point }."""
    try:
        tag, spki, end = _element(data, 0)
        if tag != _SEQUENCE or end != len(data):
            raise _DerError("not one SEQUENCE")
        tag, algorithm, after = _element(spki, 0)
        if tag != _SEQUENCE:
            raise _DerError("no AlgorithmIdentifier")
        tag, kind, pos = _element(algorithm, 0)
        if tag != _OID or _oid_text(kind) != "1.2.840.10045.2.1":
            raise _DerError("not an elliptic-curve key (id-ecPublicKey)")
        tag, curve, _ = _element(algorithm, pos)
        if tag != _OID:
            raise _DerError("curve is not named by an OID")
        tag, bits, _ = _element(spki, after)
        if tag != _BIT_STRING or len(bits) < 2 or bits[0] != 0:
            raise _DerError("no public key BIT STRING")
    except _DerError as exc:
        raise OcmfKeyError(f"public key: not a readable SubjectPublicKeyInfo ({exc})") from None
    return SubjectPublicKey(_oid_text(curve), bits[1:])


@dataclass(frozen=True, slots=True)
class SignatureValues:
    """The two integers of an ECDSA signature and how they were written."""

    r: int
    s: int
    form: str  # "der", "der-lenient" (non-minimal or unsigned INTEGERs), or "raw" (r‖s)


def _der_rs(data: bytes) -> SignatureValues | None:
    try:
        tag, body, end = _element(data, 0)
        if tag != _SEQUENCE or end != len(data):
            return None
        tag_r, r, pos = _element(body, 0)
        tag_s, s, rest = _element(body, pos)
    except _DerError:
        return None
    if tag_r != _INTEGER or tag_s != _INTEGER or rest != len(body) or not r or not s:
        return None
    strict = all((len(v) == 1 or not (v[0] == 0 and v[1] < 0x80)) and v[0] < 0x80 for v in (r, s))
    return SignatureValues(
        int.from_bytes(r, "big"), int.from_bytes(s, "big"), "der" if strict else "der-lenient"
    )


def read_signature_values(data: bytes, coordinate_size: int) -> SignatureValues:
    """(r, s) from DER (strict or not), or from the bare r‖s of 2 × the curve's coordinate size.

    Raises ValueError when the bytes are neither.
    """
    values = _der_rs(data)
    if values is not None:
        return values
    if len(data) == 2 * coordinate_size:
        half = coordinate_size
        return SignatureValues(
            int.from_bytes(data[:half], "big"), int.from_bytes(data[half:], "big"), "raw"
        )
    raise ValueError(
        f"{len(data)} bytes are neither a DER ECDSA signature nor r‖s of "
        f"{2 * coordinate_size} bytes"
    )
