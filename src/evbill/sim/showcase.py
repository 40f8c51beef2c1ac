"""The live part of `evbill demo`: a fresh embedded database, the gateway, a simulated fleet.

Registers stations (one per OCPP version and charger kind), tokens and tariffs, runs the
gateway in-process on an ephemeral port, plays the fleet against it, then reads back what
evbill recorded and priced.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from evbill.accounts.stations import StationRegistry
from evbill.accounts.tokens import TokenRegistry
from evbill.config import Settings, sqlite_url_for
from evbill.metering.ocmf import public_key_hex
from evbill.ocpp.auth import StoreCredentials, hash_station_password, verify_station_password
from evbill.ocpp.server import Gateway, GatewayConfig
from evbill.sessions.service import SessionService
from evbill.sessions.tariff_book import TariffBook
from evbill.sim.fleet import FleetConfig, FleetReport, is_dc, station_ids
from evbill.sim.signing import station_meter_key
from evbill.store.database import Database
from evbill.store.migrate import ensure_schema
from evbill.store.tables import StationRow

__all__ = ["DEMO_FLEET", "ShowcaseResult", "StationSummary", "run_showcase"]

DEMO_PASSWORD = "demo-station-password-01"  # simulated stations only
DEMO_TOKENS = ("DEMO-CARD-0001", "DEMO-CARD-0002", "DEMO-CARD-0003")

#: Six stations (1.6, 2.0.1, 2.1 round robin; every third one DC), eighteen sessions.
DEMO_FLEET = FleetConfig(
    url="", stations=6, sessions=18, protocols=("1.6", "2.0.1", "2.1"), signed=True,
    offline_rate=0.25, password=DEMO_PASSWORD, station_prefix="DEMO", id_tags=DEMO_TOKENS,
    meter_interval_s=300, dc_share=1 / 3, seed=7,
)


@dataclass(frozen=True, slots=True)
class StationSummary:
    """What evbill recorded for one station."""

    station_id: str
    protocol: str
    charger: str
    tariff: str
    sessions: int
    rated: int
    energy_wh: Decimal
    total_excl_vat: Decimal
    total_incl_vat: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class ShowcaseResult:
    data_dir: Path
    gateway_url: str
    report: FleetReport
    stations: tuple[StationSummary, ...]
    flagged: tuple[tuple[str, str, tuple[str, ...]], ...]  # station, session id, flags


def _fresh(data_dir: Path) -> str:
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    url = sqlite_url_for(data_dir)
    ensure_schema(url)
    return url


def _tariff_ids(config: FleetConfig, examples: Path) -> tuple[str, str, list[tuple[str, str]]]:
    ac = (examples / "tariffs" / "ac_standard.json").read_text("utf-8")
    dc = (examples / "tariffs" / "dc_fast.json").read_text("utf-8")
    return ac, dc, [(sid, "DC" if is_dc(config, i) else "AC")
                    for i, sid in enumerate(station_ids(config.station_prefix, config.stations))]


def register_fleet(db: Database, config: FleetConfig, examples: Path, now: datetime) -> None:
    """Stations with password and meter key, the drivers' tokens, a tariff per station."""
    ac_json, dc_json, kinds = _tariff_ids(config, examples)
    stations, book = StationRegistry(db), TariffBook(db)
    password = config.password or DEMO_PASSWORD
    for sid, kind in kinds:
        stations.add(sid, time_zone="Europe/Berlin", now=now, password=password,
                     operator="evbill demo")
        stations.set_meter_key(sid, public_key_hex(station_meter_key(sid)))
        book.add(dc_json if kind == "DC" else ac_json, now=now, station_id=sid,
                 valid_from=now - timedelta(days=365))
    with db.sessions() as s, s.begin():
        for sid, _ in kinds:
            row = s.get(StationRow, sid)
            if row is not None and row.password_hash is not None and not \
                    verify_station_password(password, row.password_hash):
                row.password_hash = hash_station_password(password)  # the gateway's scheme
    tokens = TokenRegistry(db)
    for token in config.id_tags:
        tokens.add(token, now=now, account="demo driver")


def summarise(service: SessionService, config: FleetConfig, examples: Path,
              ) -> tuple[tuple[StationSummary, ...], tuple[tuple[str, str, tuple[str, ...]], ...]]:
    """Read back every station's sessions and priced totals."""
    ac_json, dc_json, kinds = _tariff_ids(config, examples)
    tariffs = {"AC": json.loads(ac_json)["id"], "DC": json.loads(dc_json)["id"]}
    summaries, flagged = [], []
    for i, (sid, kind) in enumerate(kinds):
        views = service.list_sessions(station_id=sid, limit=1000)
        rated = [v for v in views if v.state == "rated"]
        flagged += [(sid, v.session_id, v.flags) for v in views if v.state != "rated"]
        summaries.append(StationSummary(
            station_id=sid, protocol=config.protocols[i % len(config.protocols)], charger=kind,
            tariff=tariffs[kind], sessions=len(views), rated=len(rated),
            energy_wh=sum((v.energy_wh for v in views), Decimal(0)),
            total_excl_vat=sum((_excl(service, sid, v.transaction_id) for v in rated),
                               Decimal(0)),
            total_incl_vat=sum((v.total_cost_incl_vat or Decimal(0) for v in rated),
                               Decimal(0)),
            currency=next((v.currency for v in rated if v.currency), "EUR"),
        ))
    return tuple(summaries), tuple(flagged)


def _excl(service: SessionService, station_id: str, transaction_id: str) -> Decimal:
    detail = service.find_session(station_id, transaction_id)
    return Decimal(0) if detail is None or detail.cdr is None else detail.cdr.total_cost_excl_vat


async def run_showcase(data_dir: Path, examples: Path,
                       run: Callable[[FleetConfig], Awaitable[FleetReport]],
                       config: FleetConfig = DEMO_FLEET) -> ShowcaseResult:
    """Fresh database in `data_dir`, gateway on an ephemeral port, the fleet, the read-back."""
    url = _fresh(data_dir)
    db = Database.open(url)
    try:
        register_fleet(db, config, examples, datetime.now(UTC))
        settings = Settings(data_dir=data_dir, database_url=url, auto_register_stations=False)
        service = SessionService(db, settings)
        gateway = Gateway(GatewayConfig(port=0), service, credentials=StoreCredentials(db))
        async with gateway:
            base = gateway.url("x").rsplit("/", 1)[0]
            report = await run(replace(config, url=base))
        stations, flagged = summarise(service, config, examples)
        return ShowcaseResult(data_dir, base, report, stations, flagged)
    finally:
        db.dispose()

