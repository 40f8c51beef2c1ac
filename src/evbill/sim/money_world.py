"""The demo's money machinery, wired as `evbill serve` wires it: the session service with the
payment hooks (`SessionBilling`) on the built-in sandbox provider, the ledger, and the
invoicing service that issues a receipt or credit note the moment a payment or refund is booked.

The demo's business day is fixed (`demo_day`): the last day of the previous month, so the
monthly billing run of that month finds every postpaid session, and the day's ledger root can
be closed without closing the day the portal is later browsed on. `DemoClock` is what every
money service reads; the tour moves it along the simulated stations' time.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from evbill.config import Settings
from evbill.invoicing.auto import DocumentIssuer
from evbill.invoicing.service import InvoicingService
from evbill.invoicing.settings import InvoicingSettings
from evbill.ledger.service import LedgerService
from evbill.ledger.store import sql_unit_of_work
from evbill.payments.providers.sandbox import SandboxProvider
from evbill.payments.retry import RetryingProvider, RetryPolicy
from evbill.payments.service import PaymentService
from evbill.payments.session_billing import SessionBilling
from evbill.sessions.service import SessionService
from evbill.store.database import Database

__all__ = ["DemoClock", "MoneyWorld", "build_money_world", "demo_day", "demo_issuer"]

def demo_issuer() -> InvoicingSettings:
    """The demo operator's legal data on every document (a demo company, a valid test IBAN)."""
    return InvoicingSettings(
        issuer_name="evbill Demo Charging GmbH", issuer_street="Ladestraße 12",
        issuer_postcode="10115", issuer_city="Berlin", issuer_country="DE",
        issuer_vat_id="DE123456788", issuer_registration="HRB 000000 B (demo)",
        issuer_email="billing@demo.evbill.example", issuer_iban="DE89370400440532013000",
    )



def demo_day(today: date) -> date:
    """The demo's business day: the last day of the month before `today`."""
    return today.replace(day=1) - timedelta(days=1)


class DemoClock:
    """The money services' clock: a fixed time the tour sets, or a station clock it follows."""

    def __init__(self, at: datetime) -> None:
        self._lock = threading.Lock()
        self._at = at
        self._follow: Callable[[], datetime] | None = None

    def __call__(self) -> datetime:
        with self._lock:
            return self._follow() if self._follow is not None else self._at

    def set(self, at: datetime) -> None:
        with self._lock:
            self._at, self._follow = at, None

    def follow(self, source: Callable[[], datetime]) -> None:
        """Read the time from `source` (a simulated station's clock) until the next `set`."""
        with self._lock:
            self._follow = source

    @staticmethod
    def on(day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), tzinfo=UTC)


@dataclass
class MoneyWorld:
    db: Database
    clock: DemoClock
    sandbox: SandboxProvider
    ledger: LedgerService
    invoicing: InvoicingService
    payments: PaymentService
    billing: SessionBilling
    service: SessionService


def build_money_world(db: Database, settings: Settings, clock: DemoClock) -> MoneyWorld:
    """The session service with payments, ledger and documents on `db` (see `evbill serve`)."""
    sandbox = SandboxProvider(webhook_secret=secrets.token_urlsafe(24), clock=clock,
                              namespace="demo")
    provider = RetryingProvider(sandbox, RetryPolicy(max_attempts=4))
    ledger = LedgerService(sql_unit_of_work(db))
    issuer = demo_issuer()
    invoicing = InvoicingService(db, issuer)
    payments = PaymentService(db, provider, ledger, clock=clock,
                              listeners=[DocumentIssuer(invoicing, clock)])
    billing = SessionBilling(db, payments, invoicing=issuer)
    service = SessionService(db, settings, hooks=billing)
    return MoneyWorld(db, clock, sandbox, ledger, invoicing, payments, billing, service)
