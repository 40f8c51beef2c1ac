"""OCMF (Open Charge Metering Format, S.A.F.E. e.V.): parse signed meter readings, verify them,
sign them for tests and the simulator, and take a session's signed energy.

The one import for callers; the work is done in the `ocmf_*` modules beside this one.
Verification follows the reference transparency software: see docs/metering.md.
"""

from __future__ import annotations

from evbill.metering.ocmf_container import ContainerRecord, read_records
from evbill.metering.ocmf_crypto import (
    ALGORITHMS,
    DEFAULT_ALGORITHM,
    SUPPORTED_CURVES,
    SignatureAlgorithm,
    algorithm_for,
    derive_private_key,
    generate_private_key,
    load_private_key_pem,
    load_public_key,
    private_key_pem,
    public_key_hex,
)
from evbill.metering.ocmf_energy import (
    EnergyRefusal,
    OcmfEnergyError,
    SessionEnergy,
    session_energy,
    to_wh,
)
from evbill.metering.ocmf_keys import ForeignCurveKey, MeterKey, read_meter_key
from evbill.metering.ocmf_model import (
    ChargePoint,
    GatewayInfo,
    Identification,
    LossCompensation,
    MeterIdentity,
    MeterStatus,
    OcmfDocument,
    OcmfError,
    OcmfFormatError,
    OcmfKeyError,
    OcmfPayload,
    OcmfSignature,
    OcmfSignatureError,
    OcmfUnsupportedAlgorithm,
    Pagination,
    Reading,
    ReadingTime,
    TimeSync,
    TransactionType,
)
from evbill.metering.ocmf_parse import (
    parse_ocmf,
    parse_payload,
    parse_reading_time,
    parse_signature,
)
from evbill.metering.ocmf_sign import payload_json, sign_ocmf
from evbill.metering.ocmf_verify import OcmfVerification, Verdict, verify_ocmf

__all__ = [
    "ALGORITHMS",
    "DEFAULT_ALGORITHM",
    "SUPPORTED_CURVES",
    "ChargePoint",
    "ContainerRecord",
    "EnergyRefusal",
    "ForeignCurveKey",
    "GatewayInfo",
    "Identification",
    "LossCompensation",
    "MeterIdentity",
    "MeterKey",
    "MeterStatus",
    "OcmfDocument",
    "OcmfEnergyError",
    "OcmfError",
    "OcmfFormatError",
    "OcmfKeyError",
    "OcmfPayload",
    "OcmfSignature",
    "OcmfSignatureError",
    "OcmfUnsupportedAlgorithm",
    "OcmfVerification",
    "Pagination",
    "Reading",
    "ReadingTime",
    "SessionEnergy",
    "SignatureAlgorithm",
    "TimeSync",
    "TransactionType",
    "Verdict",
    "algorithm_for",
    "derive_private_key",
    "generate_private_key",
    "load_private_key_pem",
    "load_public_key",
    "parse_ocmf",
    "parse_payload",
    "parse_reading_time",
    "parse_signature",
    "payload_json",
    "private_key_pem",
    "public_key_hex",
    "read_meter_key",
    "read_records",
    "session_energy",
    "sign_ocmf",
    "to_wh",
    "verify_ocmf",
]
