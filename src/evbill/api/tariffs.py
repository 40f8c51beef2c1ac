"""Operator tariffs: create and version OCPI tariffs on their network, assign them to
stations/EVSEs or customer groups, and price a sample session for a live preview."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from evbill.api.problems import BadRequest, Conflict, NotFound
from evbill.api.tables import GroupTariffRow, TariffOwnerRow
from evbill.money import MoneyError
from evbill.rating import MeterSample, PricedCdr, RatingError, rate_timeline
from evbill.sessions.tariff_book import StoredTariff, TariffBook, TariffBookError
from evbill.store.database import Database
from evbill.store.tables import StationRow, TariffRow
from evbill.tariffs import Tariff, TariffError, dumps, parse_tariff

__all__ = ["SampleSession", "TariffAdmin", "preview"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SampleSession:
    start: datetime
    energy_kwh: Decimal
    charging_minutes: int
    parking_minutes: int
    time_zone: str = "Europe/Berlin"


def preview(tariff: Tariff, sample: SampleSession) -> PricedCdr:
    """Price a session that charges `energy_kwh` evenly, then stays parked (pure)."""
    if sample.charging_minutes <= 0:
        raise BadRequest("sample.charging_minutes: must be positive")
    end = sample.start + timedelta(minutes=sample.charging_minutes)
    wh = sample.energy_kwh * 1000
    power = wh * 60 / sample.charging_minutes
    samples = [MeterSample(sample.start, Decimal(0), power), MeterSample(end, wh, power)]
    if sample.parking_minutes > 0:
        samples[-1] = MeterSample(end, wh, Decimal(0), charging=False)
        samples.append(MeterSample(end + timedelta(minutes=sample.parking_minutes), wh,
                                   Decimal(0), charging=False))  # fmt: skip
    try:
        return rate_timeline(tariff, sample.time_zone, samples)
    except (RatingError, MoneyError, ArithmeticError) as exc:
        raise BadRequest(f"tariff: cannot price the sample ({exc})") from None


def parse(data: Any) -> Tariff:
    try:
        return parse_tariff(data)
    except TariffError as exc:
        raise BadRequest(f"tariff.{exc}") from None


class TariffAdmin:
    def __init__(self, db: Database, operator_id: str) -> None:
        self._db = db
        self._operator = operator_id

    def _own_station(self, station_id: str) -> None:
        with self._db.read_sessions() as s:
            station = s.get(StationRow, station_id)
        if station is None or station.operator != self._operator:
            raise NotFound(f"station_id: no station {station_id!r}")

    def _claim(self, tariff_id: str) -> None:
        with self._db.sessions() as s, s.begin():
            owner = s.get(TariffOwnerRow, tariff_id)
            if owner is None and s.scalars(select(TariffRow.pk).where(
                    TariffRow.tariff_id == tariff_id).limit(1)).first() is None:
                s.add(TariffOwnerRow(tariff_id=tariff_id, operator_id=self._operator))
                return
            if owner is None or owner.operator_id != self._operator:
                raise Conflict(f"tariff.id: {tariff_id!r} belongs to another network; "
                               "choose another id")  # fmt: skip

    def owns(self, tariff_id: str) -> None:
        with self._db.read_sessions() as s:
            owner = s.get(TariffOwnerRow, tariff_id)
        if owner is None or owner.operator_id != self._operator:
            raise NotFound(f"tariff_id: no tariff {tariff_id!r}")

    def store(self, data: dict[str, Any], station_id: str, evse_id: int | None,
              valid_from: datetime | None, now: datetime) -> StoredTariff:  # fmt: skip
        """Store a new version (a new `last_updated`) and assign it to a station or EVSE."""
        tariff = parse(data)
        self._own_station(station_id)
        self._claim(tariff.id)
        try:
            stored = TariffBook(self._db).add(dumps(data, indent=None), now=now,
                                              station_id=station_id, evse_id=evse_id,
                                              valid_from=valid_from or now)  # fmt: skip
        except TariffBookError as exc:
            raise Conflict(str(exc)) from None
        log.info("api.tariff_stored operator=%s tariff_id=%s version=%s", self._operator,
                 stored.tariff_id, stored.version)  # fmt: skip
        return stored

    def versions(self, tariff_id: str | None = None) -> list[TariffRow]:
        with self._db.read_sessions() as s:
            owned = select(TariffOwnerRow.tariff_id).where(
                TariffOwnerRow.operator_id == self._operator)
            stmt = select(TariffRow).where(TariffRow.tariff_id.in_(owned))
            if tariff_id is not None:
                stmt = stmt.where(TariffRow.tariff_id == tariff_id)
            return list(s.scalars(stmt.order_by(TariffRow.tariff_id, TariffRow.pk)))

    def assign_group(self, tariff_id: str, version: str, group_id: str,
                     valid_from: datetime, now: datetime) -> GroupTariffRow:  # fmt: skip
        self.owns(tariff_id)
        with self._db.sessions() as s, s.begin():
            row = s.scalars(select(TariffRow).where(TariffRow.tariff_id == tariff_id,
                                                    TariffRow.version == version)).first()
            if row is None:
                raise NotFound(f"version: tariff {tariff_id!r} has no version {version!r}")
            group = GroupTariffRow(operator_id=self._operator, group_id=group_id,
                                   tariff_pk=row.pk, valid_from=valid_from, created_at=now)
            s.add(group)
        return group

    def latest(self, tariff_id: str) -> TariffRow:
        rows = self.versions(tariff_id)
        if not rows:
            raise NotFound(f"tariff_id: no tariff {tariff_id!r}")
        return rows[-1]

