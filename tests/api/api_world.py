"""A small two-operator world for the API tests: stations, tariffs, users, cards, sessions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import select

from evbill.accounts.roles import Role
from evbill.accounts.stations import StationRegistry
from evbill.accounts.tables import UserRow
from evbill.accounts.tokens import TokenRegistry
from evbill.api.auth import issue_token
from evbill.api.commands import adhoc_service
from evbill.api.context import ApiContext
from evbill.api.settings import ApiSettings
from evbill.api.tables import TariffOwnerRow
from evbill.api.users import users_of
from evbill.config import Settings
from evbill.invoicing.tables import DocumentRow
from evbill.money import Money
from evbill.payments.providers.sandbox_faults import FaultKind
from evbill.payments.providers.sandbox_vault import CARD_SUCCESS
from evbill.payments.session_billing import SessionBilling
from evbill.payments.settlement_pass import settle_due
from evbill.payments.tables import PaymentDunningRow
from evbill.payments.wallet_topup import WalletService
from evbill.sessions.commands import (
    IdToken,
    IdTokenType,
    MeterReading,
    RecordMeterValues,
    StartSession,
    StopSession,
)
from evbill.sessions.service import SessionService
from evbill.sessions.tariff_book import TariffBook
from evbill.store.database import Database
from evbill.tariffs import dumps

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday
PASSWORD = "correct horse battery"
FIELD_KEY = Fernet.generate_key().decode()


def tariff_json(tariff_id: str, energy: str = "0.30", minute: str | None = None) -> str:
    components: list[dict[str, object]] = [
        {"type": "ENERGY", "price": Decimal(energy), "vat": Decimal("19.0"), "step_size": 1}]
    if minute is not None:
        components.append({"type": "TIME", "price": Decimal(minute) * 60, "vat": Decimal("19.0"),
                           "step_size": 60})
    body = {"country_code": "DE", "party_id": "EVB", "id": tariff_id, "currency": "EUR",
            "last_updated": "2026-01-01T00:00:00Z",
            "elements": [{"price_components": components}]}
    return dumps(body, indent=None)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


def api_settings() -> ApiSettings:
    return ApiSettings(secret_key=SecretStr("test-secret-key-for-signing-0123456789"),
                       field_key=SecretStr(FIELD_KEY), argon2_time_cost=1,
                       argon2_memory_kib=1024, login_attempts=3, login_window_s=60,
                       settle_interval_s=0, demo=True)


#: Cards issued (unlinked) in every world, with their verification codes in `claim_codes`.
ISSUED_CARDS = ("0102030405", "EE55FF66", "NEW-CARD-1", "NEW-CARD-2")


@dataclass
class World:
    db: Database
    clock: Clock
    users: dict[str, UserRow] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # label → bearer token
    sessions: dict[str, int] = field(default_factory=dict)  # label → session id
    cdrs: dict[str, str] = field(default_factory=dict)
    card_ids: dict[str, int] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)  # label → API key id
    key_secrets: dict[str, str] = field(default_factory=dict)
    methods: dict[str, str] = field(default_factory=dict)  # label → payment method id
    card_tokens: dict[str, str] = field(default_factory=dict)  # label → provider token
    payments: dict[str, str] = field(default_factory=dict)  # label → ad hoc payment id
    payment_keys: dict[str, str] = field(default_factory=dict)
    claim_codes: dict[str, str] = field(default_factory=dict)  # issued card uid → its code
    dunning: str = ""
    receipt: str = ""
    service: SessionService | None = None  # the gateway's session service, billing hooks on


def _session(service: SessionService, clock: Clock, station: str, evse: int, card: str,
             start: datetime, minutes: int, kwh_total: str, *, stop: bool) -> int:
    clock.now = start
    res = service.start(StartSession(station_id=station, evse_id=evse, connector_id=1,
                                     id_token=IdToken(card), meter_start_wh=Decimal(1000),
                                     started_at=start))
    tx = res.transaction_id
    total = Decimal(kwh_total) * 1000
    for i in range(1, 4):
        at = start + timedelta(minutes=minutes * i / 4)
        clock.now = at
        service.meter_values(RecordMeterValues(
            station_id=station, evse_id=evse, transaction_id=tx,
            readings=(MeterReading(at=at, energy_wh=Decimal(1000) + total * i / 4,
                                   power_w=Decimal(11000)),)))
    if stop:
        end = start + timedelta(minutes=minutes)
        clock.now = end
        service.stop(StopSession(station_id=station, transaction_id=tx, stopped_at=end,
                                 meter_stop_wh=Decimal(1000) + total))
    from evbill.store.tables import SessionRow

    with service._db.read_sessions() as s:
        return s.scalars(select(SessionRow.id).where(SessionRow.station_id == station,
                                                     SessionRow.transaction_id == tx)).one()


def gateway_sessions(db: Database, ctx: ApiContext, clock: Clock) -> SessionService:
    """The session service as `evbill serve` runs it beside the gateway: with the session
    billing hooks (ad hoc holds adopted and captured once rated, bound tokens admitted and
    charged), on the API's payment service and so on the same sandbox."""
    billing = SessionBilling(db, ctx.payments, invoicing=ctx.invoicing.settings)
    return SessionService(db, Settings(), clock=clock, hooks=billing)


def build_world(db: Database, ctx: ApiContext, clock: Clock) -> World:
    world = World(db, clock)
    stations, tokens, book = StationRegistry(db), TokenRegistry(db), TariffBook(db)
    stations.add("A-1", time_zone="Europe/Berlin", now=T0, evses=2, operator="op-a")
    stations.add("B-1", time_zone="Europe/Berlin", now=T0, evses=1, operator="op-b")
    book.add(tariff_json("TA"), now=T0, station_id="A-1", valid_from=T0 - timedelta(days=60))
    book.add(tariff_json("TB", "0.50"), now=T0, station_id="B-1",
             valid_from=T0 - timedelta(days=60))
    users = users_of(ctx)
    specs = [("driver", Role.DRIVER, None), ("driver2", Role.DRIVER, None),
             ("admin", Role.OPERATOR_ADMIN, "op-a"), ("finance", Role.FINANCE, "op-a"),
             ("admin_b", Role.OPERATOR_ADMIN, "op-b"), ("finance_b", Role.FINANCE, "op-b"),
             ("clerk", Role.FINANCE, "op-a")]  # a staff user for the paths, never a caller
    for label, role, operator in specs:
        user = users.create(f"{label}@example.org", PASSWORD, label.title(), role, operator)
        world.users[label] = user
        world.tokens[label] = issue_token(ctx, user)
    for label, card in (("driver", "AA11BB22"), ("driver2", "CC33DD44")):
        row = tokens.add(card, now=T0, account=world.users[label].token_account)
        world.card_ids[label] = row.id
    for uid in ISSUED_CARDS:  # cards the operator issued, for drivers to link with the code
        world.claim_codes[uid] = tokens.issue(uid, ctx.claim_codes, now=T0).code
    service = gateway_sessions(db, ctx, clock)
    world.service = service
    world.sessions["driver_done"] = _session(service, clock, "A-1", 1, "AA11BB22", T0, 60,
                                             "20", stop=True)
    world.sessions["driver2_done"] = _session(service, clock, "B-1", 1, "CC33DD44",
                                              T0 + timedelta(hours=3), 30, "10", stop=True)
    world.sessions["driver_live"] = _session(service, clock, "A-1", 2, "AA11BB22",
                                             T0 + timedelta(days=1), 40, "8", stop=False)
    clock.now = T0 + timedelta(days=1, minutes=45)
    from evbill.store.tables import CdrRow

    with db.read_sessions() as s:
        for label in ("driver_done", "driver2_done"):
            world.cdrs[label] = s.scalars(select(CdrRow.id).where(
                CdrRow.session_id == world.sessions[label])).one()
    with db.sessions() as s, s.begin():
        s.add(TariffOwnerRow(tariff_id="TA", operator_id="op-a"))
        s.add(TariffOwnerRow(tariff_id="TB", operator_id="op-b"))
    for label, operator in (("a", "op-a"), ("a_path", "op-a"), ("b", "op-b")):
        issued = users.issue_key(operator, Role.OPERATOR_ADMIN, f"key {label}")
        world.keys[label], world.key_secrets[label] = issued.key_id, issued.secret
    wallet = WalletService(ctx)
    for label in ("driver", "driver2"):
        card = ctx.provider.tokenize(CARD_SUCCESS, 12, 2030, "123")  # type: ignore[attr-defined]
        world.card_tokens[label] = card.token
        world.methods[label] = wallet.add_method(world.users[label].token_account,
                                                 card.token).token
    wallet.top_up(world.users["driver"].token_account, Money.of("20.00", "EUR"),
                  world.methods["driver"], "world")  # driver pays from the wallet
    adhoc = adhoc_service(ctx)
    for label, station in (("b", "B-1"), ("a", "A-1")):
        card = ctx.provider.tokenize(CARD_SUCCESS, 12, 2030, "123")  # type: ignore[attr-defined]
        row, key = adhoc.pay(station, 1, card.token)
        world.payments[label], world.payment_keys[label] = row.id, key
        if label == "a":  # op-a's capture fails at the provider: into the dunning queue
            ctx.provider.faults.fail_next(1, FaultKind.UNAVAILABLE,  # type: ignore[attr-defined]
                                          operations={"capture"})
        _adhoc_session(service, clock, station, row.id_token, f"adhoc-{label}")
        settle_due(ctx)
    with db.read_sessions() as s:
        world.dunning = s.scalars(select(PaymentDunningRow.id)).one()
        world.receipt = s.scalars(select(DocumentRow.number).where(
            DocumentRow.account_id == world.users["driver"].token_account)).one()
    clock.now = T0 + timedelta(days=1, minutes=45)
    return world


def _adhoc_session(service: SessionService, clock: Clock, station: str, token: str,
                   tx: str) -> None:
    start = T0 + timedelta(hours=5)
    clock.now = start
    service.start(StartSession(station_id=station, evse_id=1, connector_id=1,
                               id_token=IdToken(token, IdTokenType.CENTRAL),
                               meter_start_wh=Decimal(0), started_at=start, transaction_ref=tx))
    clock.now = start + timedelta(minutes=20)
    service.stop(StopSession(station_id=station, transaction_id=tx, stopped_at=clock.now,
                             meter_stop_wh=Decimal(5000)))


def bearer(world: World, label: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[label]}"}
