"""What a session costs, for payments: the rated price split exactly as the receipt shows it,
and the running cost of an open session (its samples so far, rated with its tariff).
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from evbill.invoicing.compose import payment_split
from evbill.invoicing.settings import InvoicingSettings
from evbill.invoicing.sources import charged_session, customer_party
from evbill.ledger.postings import VatLine
from evbill.money import Money, MoneyError
from evbill.payments.model import SessionCharge
from evbill.rating import MeterSample, RatingError, rate_timeline
from evbill.store.database import Database
from evbill.store.tables import StationRow
from evbill.store.uow import UnitOfWork
from evbill.tariffs import TariffError, loads, parse_tariff

__all__ = ["ChargeSource", "running_cost"]

log = logging.getLogger("evbill.payments")


class ChargeSource:
    """Rated sessions as `SessionCharge`s, by the invoicing rules (`compose.payment_split`)."""

    def __init__(self, db: Database, invoicing: InvoicingSettings) -> None:
        self.db = db
        self.invoicing = invoicing

    def charge(self, cdr_id: str, reference: str, account: str | None = None) -> SessionCharge:
        """The session's charge; with `account`, taxed for its billing profile (a buyer with a
        VAT id of the station's country abroad is reverse charged, as its invoice will be)."""
        settings = self.invoicing
        with self.db.read_sessions() as s:
            session = charged_session(s, cdr_id, country=settings.issuer_country)
            operator = s.scalars(select(StationRow.operator)
                                 .where(StationRow.id == session.station_id)).first()
            customer = None if account is None else customer_party(s, account)
        net, vat = payment_split(session, settings.vat_rules(), customer)
        cur = session.currency
        return SessionCharge(reference, operator or settings.operator_id, Money(net, cur),
                             tuple(VatLine(c, r, Money(v, cur)) for c, r, v in vat))


def running_cost(db: Database, session_id: int) -> Money | None:
    """The gross cost of an open session's samples so far, or None if it cannot be rated."""
    with UnitOfWork(db, read_only=True) as uow:
        row = uow.sessions.get(session_id)
        if row is None:
            return None
        tariff_row = uow.tariffs.in_force(row.station_id, row.evse_id, row.started_at)
        if tariff_row is None:
            return None
        samples = [MeterSample(s.at, s.energy_wh, s.power_w, s.current_a, bool(s.charging))
                   for s in uow.sessions.samples(row.id)
                   if s.energy_wh is not None and s.at >= row.started_at]
        ocpi, tz, reserved = tariff_row.ocpi_json, row.time_zone, row.reservation_id is not None
    if len(samples) < 2:
        return None
    try:
        priced = rate_timeline(parse_tariff(loads(ocpi)), tz, samples, reservation=reserved)
    except (TariffError, RatingError, MoneyError, ArithmeticError) as exc:
        log.warning("payments.running_cost_failed session_id=%s error=%s", session_id, exc)
        return None
    return priced.total_cost.incl_vat
