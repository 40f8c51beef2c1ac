"""End-to-end payments helpers: the gateway and session service with the payment hooks
(`SessionBilling`) on the sandbox, a station command outbox, and the books' checks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from e2e_world import STATIONS, T0, World, register
from sqlalchemy import select

from evbill.accounts.tokens import TokenRegistry
from evbill.config import Settings
from evbill.invoicing.auto import DocumentIssuer
from evbill.invoicing.service import InvoicingService
from evbill.ledger.service import LedgerService
from evbill.ledger.store import sql_unit_of_work
from evbill.money import Money
from evbill.ocpp.auth import StoreCredentials
from evbill.ocpp.server import Gateway, GatewayConfig
from evbill.payments.model import PaymentSettings
from evbill.payments.providers.sandbox import SandboxProvider
from evbill.payments.retry import RetryingProvider, RetryPolicy
from evbill.payments.service import PaymentService
from evbill.payments.session_billing import SessionBilling
from evbill.payments.tables import PaymentChargeRow, SessionPaymentRow
from evbill.sessions.service import SessionService
from evbill.sim.charging import SessionOutcome, SessionPlan, run_session
from evbill.sim.curves import Vehicle
from evbill.sim.station import SimStation
from evbill.store.database import Database
from evbill.store.outbox import StationCommandOutbox

CAR = Vehicle(battery_wh=Decimal(100_000), soc_percent=Decimal(10))
VISA = "4242424242424242"
DECLINED = "4000000000000002"
THREE_DS = "4000000000003220"
NO_INCREMENTS = "4000000000001018"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self):  # type: ignore[no-untyped-def]
        return self.now


@dataclass
class PaidWorld:
    world: World
    billing: SessionBilling
    payments: PaymentService
    sandbox: SandboxProvider
    ledger: LedgerService
    clock: Clock

    def card_token(self, tag: str, card: str, account: str = "driver-1") -> str:
        """Register an RFID/app token bound to a vaulted card (ad hoc payment)."""
        TokenRegistry(self.world.db).add(tag, now=T0)
        method = self.payments.add_card(account, card, 12, 2030, "123")
        self.billing.bind_token(tag, "adhoc", account, method.token)
        return method.token

    def bound_token(self, tag: str, mode: str, account: str) -> None:
        TokenRegistry(self.world.db).add(tag, now=T0)
        self.billing.bind_token(tag, mode, account)

    def session_payment(self, station_id: str, transaction_id: str | None) -> SessionPaymentRow:
        detail = self.world.detail(station_id, transaction_id)
        with self.world.db.read_sessions() as r:
            row = r.scalar(select(SessionPaymentRow).where(
                SessionPaymentRow.session_id == int(detail.session.session_id)))
        assert row is not None
        return row

    def charges(self) -> list[PaymentChargeRow]:
        with self.world.db.read_sessions() as r:
            return list(r.scalars(select(PaymentChargeRow).order_by(PaymentChargeRow.created_at)))

    def captures(self) -> list[Money]:
        return [c.amount for c in self.sandbox._captures.values()]

    def assert_books(self) -> None:
        """`ledger verify` passes and the trial balance sums to zero per currency."""
        report = self.ledger.verify()
        assert report.ok, report.problem
        balance = self.ledger.trial_balance()
        assert balance.balanced, balance.totals

    def balance(self, account: str) -> Decimal:
        for line in self.ledger.trial_balance().lines:
            if line.account == account:
                return line.balance
        return Decimal(0)


async def charge(station: SimStation, tag: str, seconds: int = 7200,
                 **plan: object) -> SessionOutcome:
    outcome = await run_session(station, SessionPlan(tag, CAR, max_duration_s=seconds,
                                                     **plan))  # type: ignore[arg-type]
    await outcome.delivered(timeout=30)
    return outcome


def gross(net: Decimal) -> Decimal:
    """0.30 EUR/kWh net + 19 % VAT, each rounded to the cent as the receipt shows it."""
    net_c = net.quantize(Decimal("0.01"))
    return net_c + (net_c * Decimal("0.19")).quantize(Decimal("0.01"))


#: A small hold, raised in steps of 5 EUR: two hours at 11 kW (7.85 EUR) needs one increment.
SMALL_HOLD = PaymentSettings(default_hold=Money.of("5.00", "EUR"),
                             increment_step=Money.of("5.00", "EUR"),
                             max_hold=Money.of("20.00", "EUR"))


@pytest.fixture
def payment_settings() -> PaymentSettings:
    return PaymentSettings()


@pytest.fixture
async def paid(database_url: str, tmp_path: Path,
               payment_settings: PaymentSettings) -> AsyncIterator[PaidWorld]:
    db = Database.open(database_url)
    register(db, STATIONS)
    clock = Clock()
    sandbox = SandboxProvider(clock=clock, namespace="e2e", webhook_secret="whsec_e2e")
    ledger = LedgerService(sql_unit_of_work(db))
    provider = RetryingProvider(sandbox, RetryPolicy(max_attempts=4), sleep=lambda _: None)
    # As `evbill serve` and the API wire it: documents are issued when a payment is booked.
    issuer = DocumentIssuer(InvoicingService(db), clock)
    payments = PaymentService(db, provider, ledger, settings=payment_settings, clock=clock,
                              listeners=[issuer])
    billing = SessionBilling(db, payments)
    settings = Settings(database_url=database_url, data_dir=tmp_path,
                        auto_register_stations=False)
    service = SessionService(db, settings, hooks=billing)
    gateway = Gateway(GatewayConfig(port=0, command_poll_interval_s=0.05), service,
                      credentials=StoreCredentials(db), outbox=StationCommandOutbox(db))
    try:
        async with gateway:
            yield PaidWorld(World(db, service, gateway), billing, payments, sandbox, ledger,
                            clock)
    finally:
        db.dispose()
