"""Builders for the session service tests: commands, readings, a clock, an inline tariff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from evbill.sessions.commands import IdToken, IdTokenType, MeterReading, StartSession, StopSession

T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)  # a Monday, 09:00 in Berlin
STATION = "CS-001"
CARD = IdToken("04A1B2C3D4E5F6", IdTokenType.ISO14443)

#: 0.30 EUR/kWh + 19 % VAT, and 0.10 EUR/min once the car is parked (not charging).
TARIFF = {
    "country_code": "DE", "party_id": "EVB", "id": "AC-STD", "currency": "EUR",
    "last_updated": "2025-01-01T00:00:00Z",
    "elements": [
        {"price_components": [
            {"type": "ENERGY", "price": 0.30, "vat": 19.0, "step_size": 1},
            {"type": "PARKING_TIME", "price": 6.00, "vat": 19.0, "step_size": 60},
        ]}
    ],
}  # fmt: skip


class Clock:
    """A controllable clock for the service (the time the CSMS receives a message)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


def kwh(value: str) -> Decimal:
    return Decimal(value) * 1000


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def start_cmd(**kw: object) -> StartSession:
    values: dict[str, object] = dict(
        station_id=STATION, evse_id=1, connector_id=1, id_token=CARD,
        meter_start_wh=kwh("100"), started_at=at(0),
    )  # fmt: skip
    values.update(kw)
    return StartSession(**values)  # type: ignore[arg-type]


def stop_cmd(transaction_id: str, **kw: object) -> StopSession:
    values: dict[str, object] = dict(
        station_id=STATION, transaction_id=transaction_id, stopped_at=at(60),
        meter_stop_wh=kwh("110"), reason="EVDisconnected",
    )  # fmt: skip
    values.update(kw)
    return StopSession(**values)  # type: ignore[arg-type]


def energy(minutes: float, kwh_value: str) -> MeterReading:
    return MeterReading(at=at(minutes), energy_wh=kwh(kwh_value))
