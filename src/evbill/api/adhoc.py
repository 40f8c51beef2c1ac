"""Ad hoc charging without an account (AFIR): pay at the EVSE's page, a hold is placed, the
station starts; when the session is rated the CDR total is captured and the rest released.

The driver's link carries a random access key (only its hash is stored). The charge runs
under a one-off `Central` id token registered for the payment, which ties the session to it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select

from evbill.accounts.tokens import TokenRegistry
from evbill.api.commands import start_charging
from evbill.api.context import ApiContext
from evbill.api.live import OPEN_STATES
from evbill.api.plainwords import PriceLine, describe_tariff
from evbill.api.problems import Conflict, NotFound, PaymentRequired
from evbill.api.tables import AdhocPaymentRow
from evbill.money import Money, minor_unit
from evbill.payments.provider import AuthorizationState, PaymentError
from evbill.sessions.commands import IdToken, IdTokenType
from evbill.store.tables import CdrRow, ConnectorRow, EvseRow, SessionRow, StationRow
from evbill.store.uow import UnitOfWork
from evbill.tariffs import Tariff, loads, parse_tariff

__all__ = ["AdhocService", "EvseOffer"]

log = logging.getLogger(__name__)

HELD, CHALLENGE, DECLINED, STARTING = "authorized", "requires_action", "declined", "starting"
CAPTURED, RELEASED, REFUNDED = "captured", "released", "refunded"


@dataclass(frozen=True, slots=True)
class EvseOffer:
    station_id: str
    evse_id: int
    status: str
    tariff: Tariff
    prices: list[PriceLine]
    hold: Money


class AdhocService:
    def __init__(self, ctx: ApiContext) -> None:
        self._ctx = ctx

    def offer(self, station_id: str, evse_id: int) -> EvseOffer:
        now = self._ctx.clock()
        with UnitOfWork(self._ctx.db, read_only=True) as uow:
            evse = uow.session.scalars(select(EvseRow).where(
                EvseRow.station_id == station_id, EvseRow.evse_id == evse_id)).first()
            if evse is None:
                raise NotFound(f"evse: no EVSE {evse_id} at station {station_id!r}")
            tariff_row = uow.tariffs.in_force(station_id, evse_id, now)
            statuses = list(uow.session.scalars(select(ConnectorRow.status).where(
                ConnectorRow.station_id == station_id, ConnectorRow.evse_id == evse_id)))
            ocpi = None if tariff_row is None else tariff_row.ocpi_json
        if ocpi is None:
            raise Conflict(f"evse: EVSE {evse_id} at {station_id!r} has no tariff; it cannot "
                           "be paid for ad hoc")  # fmt: skip
        tariff = parse_tariff(loads(ocpi))
        hold = Money.of(self._ctx.api.adhoc_hold, tariff.currency)
        status = statuses[0] if statuses else "Unknown"
        return EvseOffer(station_id, evse_id, status, tariff, describe_tariff(tariff), hold)

    def pay(self, station_id: str, evse_id: int, token: str) -> tuple[AdhocPaymentRow, str]:
        """Place the hold and, once authorized, start the charge. Returns the row and the
        access key for the driver's link."""
        offer = self.offer(station_id, evse_id)
        now, pid = self._ctx.clock(), "adh_" + secrets.token_hex(8)
        key = secrets.token_urlsafe(18)
        try:
            auth = self._ctx.provider.authorize(offer.hold, token, f"{pid}:hold",
                                                {"purpose": "adhoc", "payment": pid})
        except PaymentError as exc:
            raise PaymentRequired(f"payment: {exc}") from None
        row = AdhocPaymentRow(
            id=pid, access_hash=_digest(key), station_id=station_id, evse_id=evse_id,
            provider=self._ctx.provider.name, authorization_id=auth.id,
            challenge_url=auth.challenge_ref, amount=offer.hold.amount,
            currency=offer.hold.currency, status=auth.status.value,
            decline_code=auth.decline_code.value if auth.decline_code else None,
            id_token="ADHOC" + secrets.token_hex(6).upper(), created_at=now, updated_at=now,
        )  # fmt: skip
        with self._ctx.db.sessions() as s, s.begin():
            s.add(row)
        log.info("adhoc.hold payment_id=%s station_id=%s evse_id=%d status=%s", pid,
                 station_id, evse_id, row.status)  # fmt: skip
        if row.status == HELD:
            row = self._start(row)
        return row, key

    def _start(self, row: AdhocPaymentRow) -> AdhocPaymentRow:
        now = self._ctx.clock()
        TokenRegistry(self._ctx.db).add(row.id_token, type_=IdTokenType.CENTRAL,
                                        account=f"adhoc:{row.id}",
                                        expires_at=now + timedelta(days=2), now=now)
        cmd = start_charging(self._ctx, row.station_id, row.evse_id,
                             IdToken(row.id_token, IdTokenType.CENTRAL))
        return self._update(row.id, status=STARTING, command_id=cmd.id)

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
            raise NotFound(f"payment_id: no payment {payment_id!r} for this link")
        return row

    def confirm(self, row: AdhocPaymentRow) -> AdhocPaymentRow:
        """After 3-D Secure: start if the hold now stands, record a decline otherwise."""
        if row.status != CHALLENGE or row.authorization_id is None:
            return row
        auth = self._ctx.provider.retrieve(row.authorization_id)
        if auth.state is AuthorizationState.AUTHORIZED:
            return self._start(self._update(row.id, status=HELD))
        if auth.state in (AuthorizationState.DECLINED, AuthorizationState.EXPIRED):
            code = auth.decline_code.value if auth.decline_code else auth.state.value
            return self._update(row.id, status=DECLINED, decline_code=code)
        return row

    def session_of(self, row: AdhocPaymentRow) -> SessionRow | None:
        with self._ctx.db.read_sessions() as s:
            return s.scalars(select(SessionRow).where(SessionRow.id_token == row.id_token)
                             .order_by(SessionRow.id.desc())).first()  # fmt: skip

    def settle_due(self) -> list[str]:
        """Capture the CDR total of every ad hoc session that has been rated."""
        with self._ctx.db.read_sessions() as s:
            due = list(s.execute(
                select(AdhocPaymentRow.id, CdrRow.total_cost_incl_vat, CdrRow.currency)
                .join(SessionRow, SessionRow.id_token == AdhocPaymentRow.id_token)
                .join(CdrRow, CdrRow.session_id == SessionRow.id)
                .where(AdhocPaymentRow.status == STARTING)).tuples())  # fmt: skip
        done = []
        for payment_id, total, currency in due:
            if total is not None and self._capture(payment_id, Money(total, currency)):
                done.append(payment_id)
        return done

    def _capture(self, payment_id: str, total: Money) -> bool:
        with self._ctx.db.read_sessions() as s:
            row = s.get(AdhocPaymentRow, payment_id)
        assert row is not None and row.authorization_id is not None
        places = Decimal(1).scaleb(-minor_unit(total.currency))
        amount = min(total.amount.quantize(places, ROUND_HALF_UP), row.amount)
        try:
            if amount > 0:
                cap = self._ctx.provider.capture(row.authorization_id,
                                                 Money(amount, total.currency),
                                                 f"{row.id}:capture")  # fmt: skip
                self._update(row.id, status=CAPTURED, capture_id=cap.id, captured=amount)
            else:
                self._ctx.provider.void(row.authorization_id, f"{row.id}:void")
                self._update(row.id, status=RELEASED, captured=Decimal(0))
        except PaymentError as exc:
            log.warning("adhoc.capture_failed payment_id=%s error=%s", row.id, exc)
            self._update(row.id, status="capture_failed")
            return False
        log.info("adhoc.captured payment_id=%s amount=%s", row.id, amount)
        return True

    def refund(self, operator_id: str, payment_id: str, amount: Money | None) -> AdhocPaymentRow:
        with self._ctx.db.read_sessions() as s:
            row = s.get(AdhocPaymentRow, payment_id)
            station = s.get(StationRow, row.station_id) if row is not None else None
        if row is None or station is None or station.operator != operator_id:
            raise NotFound(f"payment_id: no payment {payment_id!r}")
        if row.capture_id is None or row.captured is None:
            raise Conflict(f"payment_id: {payment_id} has nothing captured to refund")
        already = row.refunded or Decimal(0)
        value = amount.amount if amount is not None else row.captured - already
        if value <= 0 or already + value > row.captured:
            raise Conflict(f"amount: {value} exceeds the refundable {row.captured - already}")
        try:
            self._ctx.provider.refund(row.capture_id, Money(value, row.currency),
                                      f"{row.id}:refund:{already + value}")  # fmt: skip
        except PaymentError as exc:
            raise PaymentRequired(f"refund: {exc}") from None
        log.info("adhoc.refunded payment_id=%s amount=%s", row.id, value)
        return self._update(row.id, status=REFUNDED, refunded=already + value)

    def running(self, row: AdhocPaymentRow) -> bool:
        session = self.session_of(row)
        return session is not None and session.state in OPEN_STATES


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()
