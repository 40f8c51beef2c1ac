"""Metering: signed meter readings (OCMF) parsed, verified and turned into a session's energy."""

from __future__ import annotations

from evbill.metering.ocmf import (
    OcmfFormatError,
    OcmfSignatureError,
    OcmfVerification,
    SessionEnergy,
    Verdict,
    parse_ocmf,
    session_energy,
    sign_ocmf,
    verify_ocmf,
)

__all__ = [
    "OcmfFormatError",
    "OcmfSignatureError",
    "OcmfVerification",
    "SessionEnergy",
    "Verdict",
    "parse_ocmf",
    "session_energy",
    "sign_ocmf",
    "verify_ocmf",
]
