"""Checking an OCMF document's signature against its meter's public key: the verdict value."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cryptography.hazmat.primitives.asymmetric import ec

from evbill.metering.ocmf_crypto import algorithm_for, ecdsa_verify, load_public_key, public_key_hex
from evbill.metering.ocmf_model import (
    GatewayInfo,
    MeterIdentity,
    OcmfDocument,
    OcmfSignatureError,
    OcmfUnsupportedAlgorithm,
    Reading,
)
from evbill.metering.ocmf_parse import parse_ocmf

__all__ = ["OcmfVerification", "Verdict", "verify_ocmf"]


class Verdict(StrEnum):
    """Outcome of a signature check."""

    VALID = "valid"
    INVALID = "invalid"
    UNSUPPORTED_ALGORITHM = "unsupported_algorithm"


@dataclass(frozen=True, slots=True)
class OcmfVerification:
    """A parsed document, the verdict on its signature, and the key it was checked against."""

    document: OcmfDocument
    verdict: Verdict
    reason: str  # why the verdict is what it is, one line
    public_key_hex: str | None  # upper-case hex DER of the key used; None if it could not be read

    @property
    def is_valid(self) -> bool:
        return self.verdict is Verdict.VALID

    @property
    def readings(self) -> tuple[Reading, ...]:
        return self.document.payload.readings

    @property
    def meter(self) -> MeterIdentity:
        return self.document.payload.meter

    @property
    def gateway(self) -> GatewayInfo:
        return self.document.payload.gateway

    @property
    def algorithm(self) -> str:
        return self.document.signature.algorithm

    def raise_for_verdict(self) -> OcmfVerification:
        """Return self when valid; otherwise raise OcmfSignatureError (or its unsupported kind)."""
        if self.verdict is Verdict.UNSUPPORTED_ALGORITHM:
            raise OcmfUnsupportedAlgorithm(f"SA: {self.reason}")
        if self.verdict is Verdict.INVALID:
            raise OcmfSignatureError(f"SD: {self.reason}")
        return self


def verify_ocmf(
    ocmf: str | OcmfDocument, public_key: str | bytes | ec.EllipticCurvePublicKey
) -> OcmfVerification:
    """Parse (if given text) and check the signature over the payload text exactly as it stood.

    Unreadable OCMF or an unreadable key raises OcmfFormatError (OcmfKeyError for the key); a
    signature that does not verify is a verdict, not an exception.
    """
    document = ocmf if isinstance(ocmf, OcmfDocument) else parse_ocmf(ocmf)
    algorithm = algorithm_for(document.signature.algorithm)
    if not algorithm.supported:
        reason = f"{algorithm.identifier}: curve {algorithm.curve} is not available in OpenSSL"
        return OcmfVerification(document, Verdict.UNSUPPORTED_ALGORITHM, reason, None)
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        key = public_key
    else:
        try:
            key = load_public_key(public_key)
        except OcmfUnsupportedAlgorithm as exc:
            # A key on a curve OpenSSL lacks cannot belong to the (supported) SA curve.
            return OcmfVerification(document, Verdict.INVALID, str(exc), None)
    problem = ecdsa_verify(algorithm, key, document.signature.data, document.payload_text)
    if problem is None:
        return OcmfVerification(
            document, Verdict.VALID, f"signature verifies ({algorithm.identifier})",
            public_key_hex(key),
        )  # fmt: skip
    return OcmfVerification(document, Verdict.INVALID, problem, public_key_hex(key))
