"""Station registry: add stations with their EVSEs, time zone and OCPP password (a keyed hash,
see `accounts.passwords`), and check a station's password when it connects (profile 1)."""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from evbill.accounts.passwords import PasswordError, hash_password, needs_rehash, verify_password
from evbill.store.database import Database
from evbill.store.installation import STATION_PASSWORD_KEY, installation_secret
from evbill.store.tables import ConnectorRow, EvseRow, StationRow

__all__ = ["MAX_POWER_KW", "StationError", "StationRegistry", "check_time_zone", "power_w"]

log = logging.getLogger(__name__)

MAX_POWER_KW = Decimal(4000)  # beyond the largest megawatt chargers


class StationError(ValueError):
    """A station that cannot be added or changed (duplicate id, bad zone, bad EVSE count)."""


def check_time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise StationError(f"time_zone: {name!r} is not an IANA time zone") from None
    return name


def power_w(kw: str) -> int:
    """An EVSE's maximum power given in kW (`11`, `7.4`, `150`) as whole watts."""
    try:
        value = Decimal(kw.strip())
    except InvalidOperation:
        raise StationError(f"max_power_kw: {kw!r} is not a number of kW") from None
    if not value.is_finite() or not 0 < value <= MAX_POWER_KW:
        raise StationError(f"max_power_kw: {kw} kW is not above 0 and at most {MAX_POWER_KW} kW")
    watts = value * 1000
    if watts != watts.to_integral_value():
        raise StationError(f"max_power_kw: {kw} kW is finer than 1 W")
    return int(watts)


class StationRegistry:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(
        self,
        station_id: str,
        *,
        time_zone: str,
        now: datetime,
        password: str | None = None,
        evses: int = 1,
        connectors_per_evse: int = 1,
        address: str | None = None,
        operator: str | None = None,
        meter_public_key: str | None = None,
        max_power_w: int | None = None,
    ) -> StationRow:
        """Register a station with EVSEs 1..`evses`, each with `connectors_per_evse` connectors
        and the maximum power `max_power_w` (None: not known; the plausibility check then uses
        the configured EVBILL_EVSE_MAX_POWER_KW)."""
        if not station_id or len(station_id) > 48 or any(c in station_id for c in "/ \t"):
            raise StationError(
                f"station_id: {station_id!r} must be 1 to 48 characters without '/' or spaces"
            )
        if not 0 <= evses <= 64 or not 1 <= connectors_per_evse <= 8:
            raise StationError(f"evses: {evses} EVSEs of {connectors_per_evse} is out of range")
        if max_power_w is not None and not 0 < max_power_w <= MAX_POWER_KW * 1000:
            raise StationError(f"max_power_w: {max_power_w} W is not above 0 and at most "
                               f"{MAX_POWER_KW} kW")  # fmt: skip
        row = StationRow(
            id=station_id, time_zone=check_time_zone(time_zone), address=address,
            operator=operator, meter_public_key=meter_public_key,
            password_hash=None if password is None else hash_password(password, key=self._key()),
            auto_registered=False, connected=False, created_at=now,
        )  # fmt: skip
        with self._db.sessions() as s, s.begin():
            if s.get(StationRow, station_id) is not None:
                raise StationError(f"station_id: station {station_id!r} is already registered")
            s.add(row)
            s.flush()
            for evse in range(1, evses + 1):
                s.add(EvseRow(station_id=station_id, evse_id=evse, max_power_w=max_power_w))
                for connector in range(1, connectors_per_evse + 1):
                    s.add(ConnectorRow(
                        station_id=station_id, evse_id=evse, connector_id=connector,
                        status="Unknown",
                    ))  # fmt: skip
        log.info("station.added station_id=%s evses=%d tz=%s", station_id, evses, time_zone)
        return row

    def _key(self) -> bytes:
        return installation_secret(self._db, STATION_PASSWORD_KEY)

    def set_password(self, station_id: str, password: str) -> None:
        hashed = hash_password(password, key=self._key())
        with self._db.sessions() as s, s.begin():
            row = s.get(StationRow, station_id)
            if row is None:
                raise StationError(f"station_id: station {station_id!r} is not registered")
            row.password_hash = hashed

    def set_meter_key(self, station_id: str, public_key: str, evse_id: int | None = None) -> None:
        """Register the meter's OCMF public key for the station, or for one EVSE."""
        with self._db.sessions() as s, s.begin():
            row = s.get(StationRow, station_id)
            if row is None:
                raise StationError(f"station_id: station {station_id!r} is not registered")
            if evse_id is None:
                row.meter_public_key = public_key
                return
            evse = s.query(EvseRow).filter_by(station_id=station_id, evse_id=evse_id).first()
            if evse is None:
                evse = EvseRow(station_id=station_id, evse_id=evse_id)
                s.add(evse)
            evse.meter_public_key = public_key

    def check_password(self, station_id: str, password: str) -> bool:
        """True when the station exists, has a password, and `password` matches it.

        A station without a stored password never passes: profile 1 needs one.
        """
        with self._db.read_sessions() as s:
            row = s.get(StationRow, station_id)
            stored = None if row is None else row.password_hash
        try:
            ok = stored is not None and verify_password(password, stored, key=self._key())
        except PasswordError as exc:  # a damaged stored hash: refuse, and say why in the log
            log.error("station.auth_hash_unreadable station_id=%s reason=%s", station_id, exc)
            ok = False
        log.info("station.auth station_id=%s ok=%s", station_id, ok)
        if ok and stored is not None and needs_rehash(stored):
            self.set_password(station_id, password)  # an older slow hash: now the keyed one
        return ok

    def get(self, station_id: str) -> StationRow | None:
        with self._db.read_sessions() as s:
            return s.get(StationRow, station_id)

    def list(self) -> list[StationRow]:
        with self._db.read_sessions() as s:
            return list(s.query(StationRow).order_by(StationRow.id))
