"""Shared OCMF test material: the vendor samples, deterministic meter keys, a payload builder."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from evbill.metering.ocmf import derive_private_key

SAMPLES_PATH = Path(__file__).resolve().parents[1] / "data" / "ocmf" / "samples.json"

#: The curves the brief requires, each with the SA identifier used to sign on it.
REQUIRED_ALGORITHMS = {
    "secp256r1": "ECDSA-secp256r1-SHA256",
    "secp384r1": "ECDSA-secp384r1-SHA256",
    "brainpoolP256r1": "ECDSA-brainpoolP256r1-SHA256",
    "brainpoolP384r1": "ECDSA-brainpoolP384r1-SHA256",
}


def load_samples() -> list[dict[str, Any]]:
    samples: list[dict[str, Any]] = json.loads(SAMPLES_PATH.read_text(encoding="utf-8"))
    return samples


def meter_key(curve: str, seed: bytes = b"meter-1") -> ec.EllipticCurvePrivateKey:
    return derive_private_key(curve, seed)


def reading(
    tm: str = "2024-03-01T10:00:00,000+0100 S",
    tx: str | None = "B",
    rv: Decimal | None = Decimal("1234.56"),
    ru: str = "kWh",
    ri: str = "1-b:1.8.0",
    ef: str = "",
    st: str = "G",
) -> dict[str, Any]:
    fields: dict[str, Any] = {"TM": tm}
    if tx is not None:
        fields["TX"] = tx
    if rv is not None:
        fields["RV"] = rv
    fields.update({"RI": ri, "RU": ru, "RT": "AC", "EF": ef, "ST": st})
    return fields


def payload(
    readings: list[dict[str, Any]] | None = None, *, pg: str = "T7", ms: str = "EVB-0001",
    id_: str = "04A1B2C3D4E5F6", **extra: Any,
) -> dict[str, Any]:  # fmt: skip
    body: dict[str, Any] = {
        "FV": "1.0",
        "GI": "evbill SIM",
        "GS": "SIM-GW-1",
        "GV": "0.1.0",
        "PG": pg,
        "MV": "Phoenix Contact",
        "MM": "EEM-350-D-MCB",
        "MS": ms,
        "MF": "1.0",
        "IS": True,
        "IL": "VERIFIED",
        "IF": ["RFID_PLAIN", "OCPP_RS_TLS"],
        "IT": "ISO14443",
        "ID": id_,
        "RD": readings if readings is not None else [reading()],
    }
    body.update(extra)
    return body
