"""Producing signed OCMF strings, for tests and the station simulator (never for real meters)."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from evbill.metering.ocmf_crypto import DEFAULT_ALGORITHM, algorithm_for, ecdsa_sign
from evbill.metering.ocmf_model import OcmfFormatError
from evbill.metering.ocmf_parse import parse_payload

__all__ = ["payload_json", "sign_ocmf"]


def _json(value: Any, path: str) -> str:
    if isinstance(value, Mapping):
        members = [f"{_json(str(k), path)}:{_json(v, f'{path}.{k}')}" for k, v in value.items()]
        return "{" + ",".join(members) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_json(v, f"{path}[{i}]") for i, v in enumerate(value)) + "]"
    if isinstance(value, str):
        if "|" in value:
            raise OcmfFormatError(f"{path}: '|' separates OCMF sections and may not appear inside")
        return json.dumps(value)
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise OcmfFormatError(f"{path}: {value} is not a finite number")
        return str(value)
    if isinstance(value, float):
        raise OcmfFormatError(f"{path}: float {value!r} is not exact, pass a Decimal")
    raise OcmfFormatError(f"{path}: {type(value).__name__} has no JSON form")


def payload_json(payload: Mapping[str, Any]) -> str:
    """Compact JSON for a payload, keys in the order given, Decimals written digit for digit."""
    return _json(payload, "payload")


def sign_ocmf(
    payload: Mapping[str, Any],
    private_key: ec.EllipticCurvePrivateKey,
    *,
    algorithm: str = DEFAULT_ALGORITHM,
    encoding: str = "hex",
) -> str:
    """`OCMF|{payload}|{signature}` with an RFC 6979 (deterministic) ECDSA signature.

    The payload uses the spec's keys (FV, GI, …, RD with TM, TX, RV, …); it is checked with the
    same parser that reads station data, in strict mode: a payload missing PG, RD, ST… or with any
    deviation the reader would only warn about is refused here.
    """
    if encoding not in ("hex", "base64"):
        raise OcmfFormatError(f"SE: unknown signature encoding {encoding!r} (allowed: hex, base64)")
    spec = algorithm_for(algorithm)
    text = payload_json(payload)
    parse_payload(text, strict=True)
    der = ecdsa_sign(spec, private_key, text)
    data = der.hex().upper() if encoding == "hex" else base64.b64encode(der).decode("ascii")
    signature = json.dumps({"SA": algorithm, "SE": encoding, "SD": data}, separators=(",", ":"))
    return f"OCMF|{text}|{signature}"
