"""Signed meter data (OCMF) → the session's signed energy, behind one small function.

Which key: the one registered for the EVSE, else the station's, else the key the station sent
with the data (a registered key is trusted more than one the station hands us itself).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from evbill.metering import OcmfFormatError, session_energy, verify_ocmf
from evbill.metering.ocmf import EnergyRefusal, to_wh
from evbill.sessions.commands import ReadingContext
from evbill.sessions.state import SessionFlag

__all__ = ["SignedEnergy", "SignedRecord", "signed_energy"]


@dataclass(frozen=True, slots=True)
class SignedRecord:
    at: datetime
    context: str  # ReadingContext value
    encoding: str
    signed_data: str  # verbatim
    public_key: str | None


@dataclass(frozen=True, slots=True)
class SignedEnergy:
    """The verified begin/end register values (Wh) or the flag and reason why there are none."""

    begin_wh: Decimal | None
    end_wh: Decimal | None
    flag: SessionFlag | None
    reason: str

    @property
    def ok(self) -> bool:
        return self.flag is None

    @property
    def energy_wh(self) -> Decimal | None:
        if self.begin_wh is None or self.end_wh is None:
            return None
        return self.end_wh - self.begin_wh


def _refused(flag: SessionFlag, reason: str) -> SignedEnergy:
    return SignedEnergy(None, None, flag, reason)


def _pick(records: Sequence[SignedRecord]) -> tuple[SignedRecord, SignedRecord | None]:
    begins = [r for r in records if r.context == ReadingContext.TRANSACTION_BEGIN]
    ends = [r for r in records if r.context == ReadingContext.TRANSACTION_END]
    begin = begins[0] if begins else records[0]
    end = ends[-1] if ends else records[-1]
    return begin, (None if end is begin else end)


def signed_energy(records: Sequence[SignedRecord], registered_key: str | None) -> SignedEnergy:
    """Verify the session's begin and end OCMF records and give their register values."""
    ocmf = [r for r in records if r.encoding.upper().startswith("OCMF")]
    if not ocmf:
        return _refused(SessionFlag.SIGNED_DATA_INCOMPLETE, "no OCMF record among signed data")
    begin, end = _pick(sorted(ocmf, key=lambda r: r.at))
    key = registered_key or begin.public_key or (end.public_key if end else None)
    if key is None:
        return _refused(SessionFlag.SIGNED_DATA_INCOMPLETE, "no meter public key to verify with")
    try:
        first = verify_ocmf(begin.signed_data, key)
        last = None if end is None else verify_ocmf(end.signed_data, key)
    except OcmfFormatError as exc:
        return _refused(SessionFlag.SIGNATURE_INVALID, f"unreadable signed data: {exc}")
    result = session_energy(first, last)
    if result.ok and result.begin is not None and result.end is not None:
        assert result.begin.value is not None and result.end.value is not None
        begin_wh = to_wh(result.begin.value, result.begin.unit or "")
        end_wh = to_wh(result.end.value, result.end.unit or "")
        return SignedEnergy(begin_wh, end_wh, None, result.reason)
    incomplete = result.refusal in (EnergyRefusal.MISSING_BEGIN, EnergyRefusal.MISSING_END)
    flag = SessionFlag.SIGNED_DATA_INCOMPLETE if incomplete else SessionFlag.SIGNATURE_INVALID
    return _refused(flag, f"{result.refusal}: {result.reason}")
