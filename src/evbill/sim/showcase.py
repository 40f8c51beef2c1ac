"""The live part of `evbill demo`: a fresh embedded database, the gateway, a simulated fleet,
and the whole money path.

Registers stations (one per OCPP version and charger kind), tariffs, and tokens bound to a
payment mode (a guest's card, the demo driver's wallet, a fleet's postpaid account), runs the
gateway in-process on an ephemeral port with the payment hooks wired as `evbill serve` wires
them, plays the fleet against it, then the money tour (`money_tour`): an ad hoc card payer, a
wallet driver, a postpaid fleet billed for the month, a partial refund. Last, the books
(`money_books`): the day's ledger root, a receipt's inclusion proof, `ledger verify`, and every
document written out and checked against its payment.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from evbill.accounts.stations import StationRegistry
from evbill.config import Settings, sqlite_url_for
from evbill.invoicing.model import Party
from evbill.metering.ocmf import public_key_hex
from evbill.money import Money
from evbill.ocpp.auth import StoreCredentials
from evbill.ocpp.server import Gateway, GatewayConfig
from evbill.sessions.service import SessionService
from evbill.sessions.tariff_book import TariffBook
from evbill.sim.curves import AC_11KW, DC_150KW
from evbill.sim.demo_logins import DemoLogin, create_login
from evbill.sim.fleet import FleetConfig, FleetReport, is_dc, station_ids
from evbill.sim.money_books import Books, close_the_books
from evbill.sim.money_tour import (
    MASTERCARD,
    StationSpec,
    TourPlan,
    TourStories,
    bind_account,
    bind_card,
    play_tour,
    top_up,
)
from evbill.sim.money_world import DemoClock, MoneyWorld, build_money_world, demo_day
from evbill.sim.signing import station_meter_key
from evbill.store.database import Database
from evbill.store.migrate import ensure_schema
from evbill.store.outbox import StationCommandOutbox

__all__ = ["DEMO_FLEET", "AuditOutcome", "MoneyResult", "ShowcaseResult", "StationSummary",
           "audit_hook", "run_showcase"]

DEMO_PASSWORD = "demo-station-password-01"  # simulated stations only
DEMO_TOKENS = ("DEMO-CARD-0001", "DEMO-CARD-0002", "DEMO-CARD-0003")
DEMO_OPERATOR = "evbill-demo"  # the stations' network; the operator admin's too
#: Portal logins created in the demo database (printed by `evbill demo`).
DRIVER_LOGIN = ("driver@demo.evbill.example", "demo-driver-pass-1", "Dana Demo")
ADMIN_LOGIN = ("admin@demo.evbill.example", "demo-admin-pass-1", "Olga Operator")
DRIVER_PARTY = Party(name="Dana Demo", street="Gartenstraße 7", postcode="10117",
                     city="Berlin", country="DE", email="driver@demo.evbill.example")
WALLET_TOP_UP = Money.of("250.00", "EUR")

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


#: `evbill audit`'s verdict on the demo database: (mismatches, its summary line).
AuditOutcome = tuple[int, str]


def audit_hook(database_url: str) -> AuditOutcome:
    """`evbill audit` on the demo database: every session's rated total, payment, document
    lines and ledger postings compared; (mismatches, the summary line, each mismatch after
    it). `evbill demo` exits 1 when it reports a mismatch."""
    from evbill.audit.reader import run_audit

    db = Database.open(database_url)
    try:
        report = run_audit(db)
    finally:
        db.dispose()
    lines = [report.summary()] + [f"mismatch: {m}" for m in report.mismatches]
    return len(report.mismatches), "\n".join(lines)


@dataclass(frozen=True, slots=True)
class MoneyResult:
    stories: TourStories
    books: Books
    logins: tuple[DemoLogin, ...]
    audit: AuditOutcome | None


@dataclass(frozen=True, slots=True)
class ShowcaseResult:
    data_dir: Path
    gateway_url: str
    report: FleetReport
    stations: tuple[StationSummary, ...]
    flagged: tuple[tuple[str, str, tuple[str, ...]], ...]  # station, session id, flags
    money: MoneyResult


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
    """Stations with password, meter key and each EVSE's maximum power, and a tariff per
    station."""
    ac_json, dc_json, kinds = _tariff_ids(config, examples)
    stations, book = StationRegistry(db), TariffBook(db)
    password = config.password or DEMO_PASSWORD
    for sid, kind in kinds:
        charger = DC_150KW if kind == "DC" else AC_11KW  # what the simulator charges at
        stations.add(sid, time_zone="Europe/Berlin", now=now, password=password,
                     operator=DEMO_OPERATOR, max_power_w=int(charger.max_power_w))
        stations.set_meter_key(sid, public_key_hex(station_meter_key(sid)))
        book.add(dc_json if kind == "DC" else ac_json, now=now, station_id=sid,
                 valid_from=now - timedelta(days=365))


def bind_fleet_tokens(world: MoneyWorld, config: FleetConfig, driver: str,
                      now: datetime) -> None:
    """The fleet's cards pay: the first by a guest's card (ad hoc), the second from the demo
    driver's wallet, the rest on the fleet's postpaid account."""
    for i, tag in enumerate(config.id_tags):
        if i == 0:
            bind_card(world, tag, "guest-mc-4444", MASTERCARD, now)
        elif i == 1:
            bind_account(world, tag, "wallet", driver, now)
        else:
            bind_account(world, tag, "postpaid", "fleet-acme", now)


def station_specs(config: FleetConfig) -> list[StationSpec]:
    """The stations the money tour charges at: the fleet's first five (cycled if fewer)."""
    ids = station_ids(config.station_prefix, config.stations)
    password = config.password or DEMO_PASSWORD
    return [StationSpec(ids[i % len(ids)], config.protocols[i % len(ids) % len(
        config.protocols)], is_dc(config, i % len(ids)), password) for i in range(5)]


def _logins(world: MoneyWorld, settings: Settings) -> tuple[DemoLogin, ...]:
    make = [(DRIVER_LOGIN, "driver", None), (ADMIN_LOGIN, "operator_admin", DEMO_OPERATOR)]
    return tuple(create_login(world.db, settings, world.sandbox, world.clock, email=email,
                              password=password, name=name, role=role, operator=operator)
                 for (email, password, name), role, operator in make)


def summarise(service: SessionService, config: FleetConfig, examples: Path,
              ) -> tuple[tuple[StationSummary, ...], tuple[tuple[str, str, tuple[str, ...]], ...]]:
    """Read back every station's fleet sessions (the fleet's cards; the money tour's are in
    its own summary) and priced totals; any session not rated is listed as flagged."""
    ac_json, dc_json, kinds = _tariff_ids(config, examples)
    tariffs = {"AC": json.loads(ac_json)["id"], "DC": json.loads(dc_json)["id"]}
    summaries, flagged = [], []
    for i, (sid, kind) in enumerate(kinds):
        every = service.list_sessions(station_id=sid, limit=1000)
        flagged += [(sid, v.session_id, v.flags) for v in every if v.state != "rated"]
        views = [v for v in every if v.id_token in config.id_tags]
        rated = [v for v in views if v.state == "rated"]
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
                       config: FleetConfig = DEMO_FLEET,
                       today: date | None = None) -> ShowcaseResult:
    """Fresh database in `data_dir`, the gateway with payments on an ephemeral port, the
    fleet, the money tour, the books. Everything happens on the last day of the month before
    `today` (the demo's business day), so that month can be billed and its ledger day closed."""
    url = _fresh(data_dir)
    db = Database.open(url)
    try:
        day = demo_day(today or datetime.now(UTC).date())
        setup = DemoClock.on(day - timedelta(days=30), 9)  # stations exist well before
        clock = DemoClock(setup)
        settings = Settings(data_dir=data_dir, database_url=url, auto_register_stations=False)
        world = build_money_world(db, settings, clock)
        register_fleet(db, config, examples, setup)
        logins = _logins(world, settings)
        driver = logins[0].token_account
        world.invoicing.set_customer(driver, DRIVER_PARTY, now=setup)
        bind_fleet_tokens(world, config, driver, setup)
        top_up(world, driver, WALLET_TOP_UP, DemoClock.on(day, 1, 30), key="demo-topup-1")
        gateway = Gateway(GatewayConfig(port=0, command_poll_interval_s=0.05), world.service,
                          credentials=StoreCredentials(db), outbox=StationCommandOutbox(db))
        async with gateway:
            base = gateway.url("x").rsplit("/", 1)[0]
            clock.set(DemoClock.on(day, 15, 40))  # the fleet's payments, after its sessions
            report = await run(replace(config, url=base, start=DemoClock.on(day, 2)))
            plan = TourPlan(station_specs(config), day, DemoClock.on(day, 15, 45), driver,
                            WALLET_TOP_UP)
            stories = await play_tour(world, base, plan)
        books = close_the_books(world, day, data_dir / "documents", stories.adhoc.receipt)
        stations, flagged = summarise(world.service, config, examples)
        money = MoneyResult(stories, books, logins, audit_hook(url))
        return ShowcaseResult(data_dir, base, report, stations, flagged, money)
    finally:
        db.dispose()

