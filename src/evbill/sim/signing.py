"""Per-station OCMF meter signing for simulated stations (begin and end readings).

Each simulated meter has its own key pair, derived from the station id so a test or a CSMS
registration can know the public key in advance. Never for real meters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Final, Protocol

from cryptography.hazmat.primitives.asymmetric import ec

from evbill.metering.ocmf import derive_private_key, public_key_hex, sign_ocmf
from evbill.sessions.commands import ReadingContext
from evbill.sim.dialects import SignedValue

__all__ = ["MeterSigner", "OcmfMeterSigner", "ocmf_time", "station_meter_key"]

_TX_CODE: Final = {
    ReadingContext.TRANSACTION_BEGIN: "B",
    ReadingContext.TRANSACTION_END: "E",
}
_THOUSAND: Final = Decimal(1000)


class MeterSigner(Protocol):
    """Signs one meter reading of a transaction."""

    @property
    def public_key(self) -> str: ...

    def sign(self, *, at: datetime, energy_wh: int, context: ReadingContext, id_tag: str,
             transaction_ref: str, current_type: str) -> SignedValue: ...


def station_meter_key(station_id: str) -> ec.EllipticCurvePrivateKey:
    """The simulated meter's private key (secp256r1), reproducible from the station id."""
    return derive_private_key("secp256r1", f"evbill-sim-meter|{station_id}".encode())


def ocmf_time(at: datetime) -> str:
    """OCMF TM: local time with comma milliseconds, a +hhmm offset and the sync flag (S)."""
    utc = at.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S,") + f"{utc.microsecond // 1000:03d}+0000 S"


@dataclass(slots=True)
class OcmfMeterSigner:
    """An OCMF meter of one station: pagination counter, identity, key."""

    station_id: str
    key: ec.EllipticCurvePrivateKey
    pagination: int = 1

    @classmethod
    def for_station(cls, station_id: str) -> OcmfMeterSigner:
        return cls(station_id, station_meter_key(station_id))

    @property
    def public_key(self) -> str:
        return public_key_hex(self.key)

    def sign(self, *, at: datetime, energy_wh: int, context: ReadingContext, id_tag: str,
             transaction_ref: str, current_type: str) -> SignedValue:
        try:
            tx_code = _TX_CODE[context]
        except KeyError:
            raise ValueError(
                f"context: only begin and end readings are signed, not {context}") from None
        payload = {
            "FV": "1.0", "GI": "evbill-sim", "GS": self.station_id, "GV": "1.0",
            "PG": f"T{self.pagination}",
            "MV": "evbill", "MM": "SimMeter", "MS": f"SIM-{self.station_id}", "MF": "1.0",
            "IS": True, "IL": "VERIFIED", "IF": ["RFID_PLAIN", "OCPP_RS_TLS"],
            "IT": "ISO14443", "ID": id_tag,
            "CT": "CBIDC", "CI": self.station_id,
            "RD": [{"TM": ocmf_time(at), "TX": tx_code, "RV": Decimal(energy_wh) / _THOUSAND,
                    "RI": "1-b:1.8.0", "RU": "kWh", "RT": current_type, "EF": "", "ST": "G"}],
        }
        self.pagination += 1
        return SignedValue(data=sign_ocmf(payload, self.key), public_key=self.public_key)
