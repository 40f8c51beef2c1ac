"""The money path of `evbill demo`, done for real on the demo database: simulated stations
charge over OCPP through the gateway, and the payment hooks, the sandbox provider, the ledger
and the invoicing service do what they do in `evbill serve`.

- an ad hoc card payer: a sandbox card vaulted and bound to an RFID card; a hold at the start,
  the exact rated amount captured at the end, the rest released, a receipt issued;
- a wallet driver (the demo driver login): the wallet topped up with a card, the session
  debited from it, a receipt;
- a postpaid fleet account: sessions posted to its receivable, the month billed as
  `evbill bill --period` bills it, one invoice;
- a partial refund of the ad hoc session, with its credit note.

Every step runs on the demo's business day (`money_world.demo_day`), sequentially on the
stations' virtual clocks, which the money services' `DemoClock` follows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select

from evbill.accounts.tokens import TokenRegistry
from evbill.clock import utc_now
from evbill.invoicing.billing_run import prepare_run, work
from evbill.invoicing.compose import BillingPeriod
from evbill.invoicing.model import Party
from evbill.invoicing.tables import DocumentRow
from evbill.money import Money
from evbill.payments.tables import (
    PaymentAuthorizationRow,
    PaymentChargeRow,
    SessionPaymentRow,
)
from evbill.sim.charging import SessionOutcome, SessionPlan, run_session
from evbill.sim.clock import VirtualClock
from evbill.sim.curves import AC_11KW, DC_150KW, Vehicle
from evbill.sim.money_world import DemoClock, MoneyWorld
from evbill.sim.signing import OcmfMeterSigner
from evbill.sim.station import SimStation, StationConfig

__all__ = ["AdhocStory", "FleetStory", "RefundStory", "StationSpec", "TourError", "TourPlan",
           "TourStories", "WalletStory", "bill_month", "bind_account", "bind_card", "play_tour",
           "top_up"]

VISA = "4242424242424242"  # sandbox test cards: approved
MASTERCARD = "5555555555554444"
CAR = Vehicle(battery_wh=Decimal(77_000), soc_percent=Decimal(20))
#: Above any register a fleet station reached: a station's register never runs backwards.
REGISTER_START_WH = 8_000_000
CENT = Decimal("0.01")


class TourError(RuntimeError):
    """A step of the money path did not happen (a session not rated, nothing charged …)."""


@dataclass(frozen=True, slots=True)
class StationSpec:
    station_id: str
    protocol: str
    dc: bool
    password: str


@dataclass(frozen=True, slots=True)
class AdhocStory:
    account: str
    card: str  # "visa •••• 4242"
    station_id: str
    reference: str  # the charge (session) reference
    held: Money
    captured: Money
    released: Money
    receipt: str


@dataclass(frozen=True, slots=True)
class WalletStory:
    account: str
    station_id: str
    topped_up: Money
    debited: Money  # this session
    balance: Money  # after every wallet session of the day (the fleet's too)
    receipt: str


@dataclass(frozen=True, slots=True)
class FleetStory:
    account: str
    name: str
    sessions: int
    posted: Money  # to the receivable, over the whole day
    invoice: str
    invoice_total: Money
    receivable: Money  # the ledger's balance after the invoice (its VAT rounding booked too)


@dataclass(frozen=True, slots=True)
class RefundStory:
    reference: str
    amount: Money
    reason: str
    credit_note: str
    corrects: str


@dataclass(frozen=True, slots=True)
class TourStories:
    day: date
    period: str
    adhoc: AdhocStory
    wallet: WalletStory
    fleet: FleetStory
    refund: RefundStory


# --- set-up ---------------------------------------------------------------------------------
def bind_card(world: MoneyWorld, tag: str, account: str, card: str, now: datetime) -> str:
    """An RFID tag bound to a vaulted sandbox card (ad hoc: hold, capture, receipt)."""
    TokenRegistry(world.db).add(tag, now=now, account=account)
    method = world.payments.add_card(account, card, 12, now.year + 3, "123")
    world.billing.bind_token(tag, "adhoc", account, method.token)
    return f"{method.brand} •••• {method.last4}"


def bind_account(world: MoneyWorld, tag: str, mode: str, account: str, now: datetime) -> None:
    """An RFID tag paying from `account`'s wallet or on its postpaid receivable."""
    TokenRegistry(world.db).add(tag, now=now, account=account)
    world.billing.bind_token(tag, mode, account)


def top_up(world: MoneyWorld, account: str, amount: Money, at: datetime, key: str) -> Money:
    """Vault a card for `account` and top its wallet up with it (at `at`)."""
    world.clock.set(at)
    method = world.payments.add_card(account, MASTERCARD, 12, at.year + 3, "123")
    return world.payments.top_up(account, amount, method.token, key=key)


# --- charging -------------------------------------------------------------------------------
async def _charge(world: MoneyWorld, url: str, spec: StationSpec, tag: str, at: datetime,
                  minutes: int) -> SessionOutcome:
    """One session on `spec`'s station, from `at`, with the money clock on the station's."""
    config = StationConfig(spec.station_id, password=spec.password, protocol=spec.protocol,
                           charger=DC_150KW if spec.dc else AC_11KW, meter_interval_s=300,
                           register_start_wh=REGISTER_START_WH, reconnect_delay_s=0.05,
                           model="SimDC150" if spec.dc else "SimAC11")
    clock = VirtualClock(at)
    station = SimStation(config, url, clock, signer=OcmfMeterSigner.for_station(spec.station_id))
    world.clock.follow(clock.now)
    try:
        await station.connect()
        if await station.boot() != "Accepted":
            raise TourError(f"{spec.station_id}: the gateway did not accept the station")
        outcome = await run_session(station, SessionPlan(tag, CAR, max_duration_s=minutes * 60))
        await outcome.delivered(timeout=30)
    finally:
        await station.close()
        world.clock.set(clock.now())
    if outcome.transaction_id is None:
        raise TourError(f"{spec.station_id}: {tag} was answered {outcome.authorization}")
    await asyncio.to_thread(world.billing.settle_due)  # a hook the gateway could not finish
    return outcome


def _charge_of(world: MoneyWorld, spec: StationSpec, outcome: SessionOutcome,
               ) -> PaymentChargeRow:
    assert outcome.transaction_id is not None
    detail = world.service.find_session(spec.station_id, outcome.transaction_id)
    if detail is None or detail.session.state != "rated":
        state = None if detail is None else detail.session.state
        raise TourError(f"{spec.station_id} {outcome.transaction_id}: not rated ({state})")
    with world.db.read_sessions() as r:
        reference = r.scalar(select(SessionPaymentRow.charge_reference).where(
            SessionPaymentRow.session_id == int(detail.session.session_id)))
        charge = None if reference is None else r.scalar(
            select(PaymentChargeRow).where(PaymentChargeRow.reference == reference))
    if charge is None:
        raise TourError(f"{spec.station_id} {outcome.transaction_id}: rated but not charged")
    return charge


def _document(world: MoneyWorld, source_key: str) -> str:
    with world.db.read_sessions() as r:
        number = r.scalar(select(DocumentRow.number).where(DocumentRow.source_key == source_key))
    if number is None:
        raise TourError(f"no document was issued for {source_key}")
    return number


def _money(value: Decimal | None, currency: str) -> Money:
    return Money(value or Decimal(0), currency)


# --- the stories ----------------------------------------------------------------------------
async def adhoc_card_payer(world: MoneyWorld, url: str, spec: StationSpec, at: datetime,
                           account: str) -> AdhocStory:
    tag = "GUEST-VISA-4242"
    card = bind_card(world, tag, account, VISA, at)
    outcome = await _charge(world, url, spec, tag, at, minutes=90)
    charge = _charge_of(world, spec, outcome)
    with world.db.read_sessions() as r:
        hold = r.scalar(select(PaymentAuthorizationRow).where(
            PaymentAuthorizationRow.id == charge.authorization_id))
    if hold is None or charge.method != "card":
        raise TourError(f"{tag}: the session was not paid by a card hold")
    cur = charge.currency
    return AdhocStory(account, card, spec.station_id, charge.reference,
                      _money(hold.amount_held, cur), _money(charge.gross, cur),
                      _money(charge.released, cur), _document(world, f"receipt:{charge.reference}"))


async def wallet_driver(world: MoneyWorld, url: str, spec: StationSpec, at: datetime,
                        account: str, topped_up: Money) -> WalletStory:
    tag = "DRIVER-WALLET-01"
    bind_account(world, tag, "wallet", account, at)
    outcome = await _charge(world, url, spec, tag, at, minutes=60)
    charge = _charge_of(world, spec, outcome)
    if charge.method != "wallet":
        raise TourError(f"{tag}: the session was paid by {charge.method}, not the wallet")
    return WalletStory(account, spec.station_id, topped_up, _money(charge.gross, charge.currency),
                       world.payments.wallet_balance(account),
                       _document(world, f"receipt:{charge.reference}"))


async def postpaid_fleet(world: MoneyWorld, url: str, specs: Sequence[StationSpec],
                         at: datetime, account: str) -> int:
    """Sessions of two vans on the fleet's receivable (one per station in `specs`)."""
    tags = ("ACME-VAN-01", "ACME-VAN-02")
    for tag in tags:
        bind_account(world, tag, "postpaid", account, at)
    for i, spec in enumerate(specs):
        outcome = await _charge(world, url, spec, tags[i % len(tags)], at, minutes=30 + 15 * i)
        if _charge_of(world, spec, outcome).method != "postpaid":
            raise TourError(f"{spec.station_id}: the van's session was not posted to {account}")
        at = world.clock() + timedelta(minutes=5)
    return len(specs)


def partial_refund(world: MoneyWorld, adhoc: AdhocStory, at: datetime) -> RefundStory:
    """A quarter of the ad hoc session back to the card, with its credit note."""
    world.clock.set(at)
    amount = Money((adhoc.captured.amount / 4).quantize(CENT, ROUND_HALF_UP),
                   adhoc.captured.currency)
    reason = "goodwill: 25 % back, the charger ran slow"
    refund = world.payments.refund(adhoc.reference, amount, reason=reason, actor="demo operator",
                                   key=f"demo-refund:{adhoc.reference}")
    return RefundStory(adhoc.reference, refund.amount, reason,
                       _document(world, f"credit:{refund.id}"), adhoc.receipt)


def bill_month(world: MoneyWorld, day: date, at: datetime) -> list[str]:
    """The month's billing run, as `evbill bill --period YYYY-MM` runs it (PDFs come later)."""
    world.clock.set(at)
    period = BillingPeriod(day.year, day.month)
    prepare_run(world.invoicing, period, now=at)
    return work(world.invoicing, period, worker="evbill-demo", now=world.clock, pdf=False).issued


def receivable_balance(world: MoneyWorld, account: str, currency: str) -> Money:
    """The customer's receivable as the ledger's trial balance holds it."""
    name = f"asset:receivable:{account}"
    return Money(next((line.balance for line in world.ledger.trial_balance().lines
                       if line.account == name and line.currency == currency), Decimal(0)),
                 currency)


def postpaid_total(world: MoneyWorld, account: str) -> Money:
    with world.db.read_sessions() as r:
        rows = r.execute(select(PaymentChargeRow.gross, PaymentChargeRow.currency).where(
            PaymentChargeRow.account == account, PaymentChargeRow.method == "postpaid")).all()
    currency = rows[0][1] if rows else "EUR"
    return Money(sum((gross for gross, _ in rows), Decimal(0)), currency)


@dataclass(frozen=True, slots=True)
class TourPlan:
    """Who pays and where: the stations (in fleet order) and the accounts."""

    stations: Sequence[StationSpec]
    day: date
    start: datetime  # first session of the stories
    driver_account: str
    driver_topped_up: Money
    guest_account: str = "guest-visa-4242"
    fleet_account: str = "fleet-acme"
    fleet_name: str = "Acme Logistics GmbH"


FLEET_PARTY = Party(name="Acme Logistics GmbH", street="Hafenweg 4", postcode="20457",
                    city="Hamburg", country="DE", vat_id="DE987654320",
                    email="ap@acme-logistics.example")


async def play_tour(world: MoneyWorld, url: str, plan: TourPlan) -> TourStories:
    """The four stories in sequence on `plan.day`, then the month billed the next morning."""
    s = plan.stations
    world.invoicing.set_customer(plan.fleet_account, FLEET_PARTY, now=plan.start)
    adhoc = await adhoc_card_payer(world, url, s[0], plan.start, plan.guest_account)
    wallet = await wallet_driver(world, url, s[1], world.clock() + timedelta(minutes=5),
                                 plan.driver_account, plan.driver_topped_up)
    sessions = await postpaid_fleet(world, url, (s[2], s[3], s[4]),
                                    world.clock() + timedelta(minutes=5), plan.fleet_account)
    refund = partial_refund(world, adhoc, world.clock() + timedelta(minutes=5))
    last = world.clock()
    if last.date() != plan.day:
        raise TourError(f"the stories ran past {plan.day} ({last.isoformat()})")
    bill_at = DemoClock.on(plan.day + timedelta(days=1), 6)
    # The next morning, or now if that is still ahead (the demo is run on the 1st).
    issued = bill_month(world, plan.day, min(bill_at, max(last, utc_now())))
    invoice = _document(world, f"invoice:{plan.fleet_account}:"
                               f"{BillingPeriod(plan.day.year, plan.day.month)}:EUR")
    if invoice not in issued:
        raise TourError(f"the billing run issued {issued}, not the fleet's invoice")
    with world.db.read_sessions() as r:
        total = r.scalar(select(DocumentRow.total_gross).where(DocumentRow.number == invoice))
    posted = postpaid_total(world, plan.fleet_account)
    fleet = FleetStory(plan.fleet_account, plan.fleet_name, sessions, posted, invoice,
                       Money(total or Decimal(0), posted.currency),
                       receivable_balance(world, plan.fleet_account, posted.currency))
    return TourStories(plan.day, str(BillingPeriod(plan.day.year, plan.day.month)), adhoc,
                       wallet, fleet, refund)


