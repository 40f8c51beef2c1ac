"""Ad hoc charging without an account (AFIR): pay at the EVSE's page, the payment service
places the hold, the station starts; the gateway's session billing hooks capture the CDR total
once it is rated, and the settlement pass (`settlement_pass`) records the outcome here.

The driver's link carries a random access key (only its hash is stored). The charge runs
under a one-off `Central` id token registered for the payment, which ties the session to it.
The hold's reference in the payment service is this payment's id.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from evbill.accounts.tokens import TokenRegistry
from evbill.money import Money
from evbill.payments.app_context import PaymentsApp
from evbill.payments.model import HoldOutcome, HoldResult
from evbill.payments.provider import PaymentError
from evbill.payments.refusals import NotFoundHere, PaymentRefused, StateConflict
from evbill.payments.tables import AdhocPaymentRow, PaymentAuthorizationRow
from evbill.sessions.commands import IdToken, IdTokenType
from evbill.store.tables import ConnectorRow, EvseRow, SessionRow
from evbill.store.uow import UnitOfWork
from evbill.tariffs import Tariff, loads, parse_tariff

__all__ = ["FAILED", "PENDING", "STARTING", "AdhocService", "EvseOffer",
           "StartCharging"]

log = logging.getLogger(__name__)

PENDING, STARTING, FAILED = "pending", "starting", "failed"


@dataclass(frozen=True, slots=True)
class EvseOffer:
    station_id: str
    evse_id: int
    status: str
    tariff: Tariff
    hold: Money


#: Sends the remote start to the station (the app's command outbox); returns the command id.
StartCharging = Callable[[str, int, IdToken], str]


class AdhocService:
    def __init__(self, ctx: PaymentsApp, start: StartCharging) -> None:
        self._ctx = ctx
        self._start_charging = start

    def offer(self, station_id: str, evse_id: int) -> EvseOffer:
        now = self._ctx.clock()
        with UnitOfWork(self._ctx.db, read_only=True) as uow:
            evse = uow.session.scalars(select(EvseRow).where(
                EvseRow.station_id == station_id, EvseRow.evse_id == evse_id)).first()
            if evse is None:
                raise NotFoundHere(f"evse: no EVSE {evse_id} at station {station_id!r}")
            tariff_row = uow.tariffs.in_force(station_id, evse_id, now)
            statuses = list(uow.session.scalars(select(ConnectorRow.status).where(
                ConnectorRow.station_id == station_id, ConnectorRow.evse_id == evse_id)))
            ocpi = None if tariff_row is None else tariff_row.ocpi_json
        if ocpi is None:
            raise StateConflict(f"evse: EVSE {evse_id} at {station_id!r} has no tariff; it cannot "
                           "be paid for ad hoc")  # fmt: skip
        tariff = parse_tariff(loads(ocpi))
        hold = self._ctx.payments.ctx.settings.hold_for(station_id)
        status = statuses[0] if statuses else "Unknown"
        return EvseOffer(station_id, evse_id, status, tariff, hold)

    def pay(self, station_id: str, evse_id: int, token: str) -> tuple[AdhocPaymentRow, str]:
        """Place the hold and, once authorized, start the charge. Returns the row and the
        access key for the driver's link."""
        self.offer(station_id, evse_id)  # the EVSE exists and has a tariff
        now, pid = self._ctx.clock(), "adh_" + secrets.token_hex(8)
        key = secrets.token_urlsafe(18)
        row = AdhocPaymentRow(
            id=pid, access_hash=_digest(key), station_id=station_id, evse_id=evse_id,
            status=PENDING, id_token="ADHOC" + secrets.token_hex(6).upper(), created_at=now,
            updated_at=now,
        )  # fmt: skip
        with self._ctx.db.sessions() as s, s.begin():
            s.add(row)
        try:
            hold = self._ctx.payments.authorize_hold(reference=pid, account=f"adhoc.{pid}",
                                                     payment_method_token=token,
                                                     station_id=station_id)  # fmt: skip
        except PaymentError as exc:
            self._update(pid, status=FAILED)
            raise PaymentRefused(f"payment: {exc}") from None
        log.info("adhoc.hold payment_id=%s station_id=%s evse_id=%d outcome=%s", pid,
                 station_id, evse_id, hold.outcome.value)  # fmt: skip
        return self._after_hold(row, hold), key

    def _after_hold(self, row: AdhocPaymentRow, hold: HoldResult) -> AdhocPaymentRow:
        if hold.outcome is HoldOutcome.AUTHORIZED and row.status == PENDING:
            return self._start(row)
        if hold.outcome is HoldOutcome.DECLINED:
            return self._update(row.id, status=FAILED)
        return row

    def _start(self, row: AdhocPaymentRow) -> AdhocPaymentRow:
        now = self._ctx.clock()
        TokenRegistry(self._ctx.db).add(row.id_token, type_=IdTokenType.CENTRAL,
                                        account=f"adhoc.{row.id}",
                                        expires_at=now + timedelta(days=2), now=now)
        command_id = self._start_charging(row.station_id, row.evse_id,
                                          IdToken(row.id_token, IdTokenType.CENTRAL))
        return self._update(row.id, status=STARTING, command_id=command_id)

    def _update(self, payment_id: str, **values: object) -> AdhocPaymentRow:
        with self._ctx.db.sessions() as s, s.begin():
            row = s.get(AdhocPaymentRow, payment_id)
            assert row is not None
            for name, value in values.items():
                setattr(row, name, value)
            row.updated_at = self._ctx.clock()
            return row

    def find(self, payment_id: str, key: str) -> AdhocPaymentRow:
        with self._ctx.db.read_sessions() as s:
            row = s.get(AdhocPaymentRow, payment_id)
        if row is None or not hmac.compare_digest(row.access_hash, _digest(key)):
            raise NotFoundHere(f"payment_id: no payment {payment_id!r} for this link")
        return row

    def hold(self, payment_id: str) -> PaymentAuthorizationRow | None:
        with self._ctx.db.read_sessions() as s:
            return s.scalars(select(PaymentAuthorizationRow).where(
                PaymentAuthorizationRow.reference == payment_id)).first()

    def confirm(self, row: AdhocPaymentRow) -> AdhocPaymentRow:
        """After 3-D Secure (or its webhook): start if the hold now stands."""
        if row.status != PENDING:
            return row
        return self._after_hold(row, self._ctx.payments.refresh_hold(row.id))

    def session_of(self, row: AdhocPaymentRow) -> SessionRow | None:
        with self._ctx.db.read_sessions() as s:
            return s.scalars(select(SessionRow).where(SessionRow.id_token == row.id_token)
                             .order_by(SessionRow.id.desc())).first()  # fmt: skip


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()
