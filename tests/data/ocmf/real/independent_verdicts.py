"""Establish the expected verdict of every record in records.jsonl WITHOUT evbill's code.

Run from the repository root:

    python tests/data/ocmf/real/independent_verdicts.py          # print verdicts and a summary
    python tests/data/ocmf/real/independent_verdicts.py --write  # store them as "expected",
                                                                 # and write records.xml

Each signature is checked twice, by two independent implementations: the pure-Python `ecdsa`
package (every curve; secp192k1 defined here from SEC 2, table 2.2, since `ecdsa` does not ship
it) and `cryptography`/OpenSSL (every curve it offers). Where both can check a record they must
agree, or the script stops. Keys and signatures are decoded by the small DER reader below, which
accepts non-minimal INTEGERs as the reference transparency software does.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import sys
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from ecdsa import BadSignatureError, VerifyingKey, curves
from ecdsa.ellipticcurve import CurveFp, PointJacobi

HERE = Path(__file__).parent
RECORDS = HERE / "records.jsonl"
CONTAINER = HERE / "records.xml"  # the same records in the transparency software's container

_P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFEE37
_GX = 0xDB4FF10EC057E9AE26B07D0280B7F4341DA5D1B1EAE06C7D
_GY = 0x9B2F2F6D9C5628A7844163D015BE86344082AA88D95E2F9D
_N = 0xFFFFFFFFFFFFFFFFFFFFFFFE26F2FC170F69466A74DEFD8D
assert (_GY * _GY - _GX**3 - 3) % _P == 0, "secp192k1 generator is not on the curve"
_FP = CurveFp(_P, 0, 3, 1)
SECP192K1 = curves.Curve(
    "SECP192k1", _FP, PointJacobi(_FP, _GX, _GY, 1, _N, generator=True), (1, 3, 132, 0, 31)
)

# curve name -> (ecdsa curve, cryptography curve or None, coordinate size in bytes)
CURVES = {
    "secp192k1": (SECP192K1, None, 24),
    "secp192r1": (curves.NIST192p, ec.SECP192R1(), 24),
    "secp256k1": (curves.SECP256k1, ec.SECP256K1(), 32),
    "secp256r1": (curves.NIST256p, ec.SECP256R1(), 32),
    "secp384r1": (curves.NIST384p, ec.SECP384R1(), 48),
    "brainpoolP256r1": (curves.BRAINPOOLP256r1, ec.BrainpoolP256R1(), 32),
    "brainpoolP384r1": (curves.BRAINPOOLP384r1, ec.BrainpoolP384R1(), 48),
}
OIDS = {
    "2a8648ce3d030101": "secp192r1",
    "2a8648ce3d030107": "secp256r1",
    "2b8104000a": "secp256k1",
    "2b8104001f": "secp192k1",
    "2b81040022": "secp384r1",
    "2b2403030208010107": "brainpoolP256r1",
    "2b240303020801010b": "brainpoolP384r1",
}


def _tlv(data: bytes, pos: int) -> tuple[int, bytes, int]:
    """One DER element at pos: (tag, content, position after it)."""
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    content = data[pos : pos + length]
    if len(content) != length:
        raise ValueError("truncated DER")
    return tag, content, pos + length


def _text_bytes(text: str) -> bytes:
    text = text.strip()
    if text.startswith("-----BEGIN"):
        text = "".join(line for line in text.splitlines() if not line.startswith("-----"))
    compact = "".join(text.split())
    if re.fullmatch(r"(?:[0-9a-fA-F]{2})+", compact):
        return bytes.fromhex(compact)
    return base64.b64decode(compact, validate=True)


def read_key(text: str, sa_curve: str) -> tuple[str, bytes]:
    """(curve name, uncompressed point 04||X||Y) from SPKI DER, or a raw point on the SA curve."""
    data = _text_bytes(text)
    if data[0] == 0x30:
        _, spki, _ = _tlv(data, 0)
        _, algorithm, after = _tlv(spki, 0)
        _, _, pos = _tlv(algorithm, 0)  # id-ecPublicKey
        _, oid, _ = _tlv(algorithm, pos)
        _, bits, _ = _tlv(spki, after)
        return OIDS[oid.hex()], bits[1:]  # skip the unused-bits byte
    size = CURVES[sa_curve][2]
    if len(data) == 2 * size:
        return sa_curve, b"\x04" + data
    if len(data) == 2 * size + 1 and data[0] == 4:
        return sa_curve, data
    raise ValueError(f"raw key of {len(data)} bytes does not fit {sa_curve}")


def read_signature(data: bytes, size: int) -> tuple[int, int]:
    """(r, s) from DER (non-minimal integers allowed) or from raw r||s."""
    if data and data[0] == 0x30:
        try:
            _, seq, end = _tlv(data, 0)
            tag_r, r, pos = _tlv(seq, 0)
            tag_s, s, rest = _tlv(seq, pos)
            if tag_r == tag_s == 2 and rest == len(seq) and end == len(data):
                return int.from_bytes(r, "big"), int.from_bytes(s, "big")
        except (IndexError, ValueError):
            pass
    if len(data) == 2 * size:
        return int.from_bytes(data[:size], "big"), int.from_bytes(data[size:], "big")
    raise ValueError("signature is neither DER nor raw r||s")


def verdict(record: str, key_text: str) -> tuple[str, str]:
    _, payload, signature_json = record.strip().split("|")
    signature = json.loads(signature_json)
    sa = signature.get("SA") or "ECDSA-secp256r1-SHA256"
    _, sa_curve, hash_name = sa.split("-")
    sa_curve = {"brainpool256r1": "brainpoolP256r1", "brainpool384r1": "brainpoolP384r1"}.get(
        sa_curve, sa_curve
    )
    encoding = signature.get("SE") or "hex"
    sd = signature["SD"]
    raw = bytes.fromhex(sd) if encoding == "hex" else base64.b64decode(sd)
    try:
        curve, point = read_key(key_text, sa_curve)
    except (KeyError, ValueError, binascii.Error) as exc:
        return "invalid", f"key unreadable: {exc}"
    if curve != sa_curve:
        return "invalid", f"key on {curve}, SA names {sa_curve}"
    ecdsa_curve, crypto_curve, size = CURVES[curve]
    r, s = read_signature(raw, size)
    message = payload.encode("utf-8")
    digest = hashlib.new(hash_name.lower(), message).digest()
    vk = VerifyingKey.from_string(point, curve=ecdsa_curve)
    try:
        ok = vk.verify_digest(
            (r, s), digest, sigdecode=lambda sig, _order: sig, allow_truncate=True
        )
    except BadSignatureError:
        ok = False
    if crypto_curve is not None:
        public = ec.EllipticCurvePublicKey.from_encoded_point(crypto_curve, point)
        algo = hashes.SHA384() if hash_name == "SHA384" else hashes.SHA256()
        try:
            public.verify(encode_dss_signature(r, s), message, ec.ECDSA(algo))
            second = True
        except InvalidSignature:
            second = False
        if second != ok:
            raise SystemExit(f"ecdsa and cryptography disagree on {record[:80]}")
    return ("valid" if ok else "invalid"), f"{sa} on {curve}"


def main() -> None:
    entries = [json.loads(line) for line in RECORDS.read_text(encoding="utf-8").splitlines()]
    counts: dict[str, int] = {}
    for entry in entries:
        result, why = verdict(entry["record"], entry["public_key"])
        entry["expected"] = result
        counts[result] = counts.get(result, 0) + 1
        print(f"{result:8} {entry['vendor'][:28]:28} {why}")
    print(f"{len(entries)} records: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if "--write" in sys.argv:
        RECORDS.write_text(
            "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries), encoding="utf-8"
        )
        CONTAINER.write_text(container(entries), encoding="utf-8")


def container(entries: list[dict[str, str]]) -> str:
    """The records as <values><value><signedData/><publicKey/></value>…</values>."""
    from xml.sax.saxutils import escape

    lines = ['<?xml version="1.0" encoding="UTF-8"?>']
    lines.append('<values xmlns="http://transparenz.software/schema/2018/07">')
    for entry in entries:
        lines.append(f"  <!-- {escape(entry['repo'])}: {escape(entry['source'])} -->")
        lines.append("  <value>")
        signed = escape(entry["record"])
        lines.append(f'    <signedData format="OCMF" encoding="plain">{signed}</signedData>')
        lines.append(f"    <publicKey>{escape(entry['public_key'])}</publicKey>")
        lines.append("  </value>")
    lines.append("</values>")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
