"""Checking an OCMF document's signature against its meter's public key: the verdict value."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cryptography.hazmat.primitives.asymmetric import ec

from evbill.metering.ocmf_crypto import algorithm_for, ecdsa_verify
from evbill.metering.ocmf_der import read_signature_values
from evbill.metering.ocmf_keys import ForeignCurveKey, MeterKey, read_meter_key
from evbill.metering.ocmf_model import (
    GatewayInfo,
    MeterIdentity,
    OcmfDocument,
    OcmfSignatureError,
    Reading,
)
from evbill.metering.ocmf_parse import parse_ocmf

__all__ = ["OcmfVerification", "Verdict", "verify_ocmf"]


class Verdict(StrEnum):
    """Outcome of a signature check."""

    VALID = "valid"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class OcmfVerification:
    """A parsed document, the verdict on its signature, and the key it was checked against."""

    document: OcmfDocument
    verdict: Verdict
    reason: str  # why the verdict is what it is, one line
    public_key_hex: str | None  # upper-case hex DER of the key used; None if it could not be read
    warnings: tuple[str, ...] = ()  # the document's deviations, then the signature encoding's

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
        """Return self when valid; otherwise raise OcmfSignatureError with the reason."""
        if self.verdict is Verdict.INVALID:
            raise OcmfSignatureError(f"SD: {self.reason}")
        return self


_SIGNATURE_FORMS = {
    "der-lenient": "SD: DER with non-minimal or unsigned INTEGERs (accepted as the reference "
    "software does)",
    "raw": "SD: the bare r‖s pair, not DER as SM says",
}


def verify_ocmf(
    ocmf: str | OcmfDocument, public_key: str | bytes | ec.EllipticCurvePublicKey | MeterKey
) -> OcmfVerification:
    """Parse (if given text) and check the signature over the payload text exactly as it stood.

    Unreadable OCMF or an unreadable key raises OcmfFormatError (OcmfKeyError for the key); a
    signature that does not verify is a verdict, not an exception. The key may be DER, PEM,
    base64, hex or a bare point (placed on the curve the record's SA names).
    """
    document = ocmf if isinstance(ocmf, OcmfDocument) else parse_ocmf(ocmf)
    algorithm = algorithm_for(document.signature.algorithm)
    warnings = document.warnings
    try:
        key = read_meter_key(public_key, algorithm.curve)
    except ForeignCurveKey as exc:
        # A readable key on another curve cannot belong to this record's signer.
        return OcmfVerification(document, Verdict.INVALID, str(exc), None, warnings)
    try:
        values = read_signature_values(document.signature.data, algorithm.coordinate_size)
    except ValueError as exc:
        return OcmfVerification(document, Verdict.INVALID, f"SD: {exc}", key.hex(), warnings)
    if values.form in _SIGNATURE_FORMS:
        warnings = (*warnings, _SIGNATURE_FORMS[values.form])
    problem = ecdsa_verify(algorithm, key, values, document.payload_text)
    if problem is None:
        return OcmfVerification(
            document, Verdict.VALID, f"signature verifies ({algorithm.identifier})",
            key.hex(), warnings,
        )  # fmt: skip
    return OcmfVerification(document, Verdict.INVALID, problem, key.hex(), warnings)
