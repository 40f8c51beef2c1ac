"""Payments taken by a station's own terminal (OCPP 2.1 NotifySettlement): recorded once per
psp reference, reconciled with the session (by transactionId) and posted to the ledger.

A settled payment posts as a capture through the `terminal` provider's clearing account, split
into net and VAT exactly as the session's receipt shows it (or, when the amounts differ, in the
receipt's proportions); the difference stays visible in `reconciled` and in `evbill reconcile`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from evbill.ledger import postings
from evbill.ledger.postings import Meta
from evbill.ledger.service import LedgerService
from evbill.money import Money
from evbill.payments.charges import ChargeSource
from evbill.payments.context import log
from evbill.payments.model import SessionCharge, split_refund
from evbill.payments.tables import StationSettlementRow
from evbill.sessions.hooks import SettlementRecorded, StationSettlement
from evbill.store.database import Database
from evbill.store.uow import UnitOfWork

__all__ = ["TERMINAL_PROVIDER", "StationSettlements", "settlement_key"]

TERMINAL_PROVIDER = "terminal"


def settlement_key(psp_ref: str) -> str:
    return f"payments:station_settlement:{psp_ref}"


class StationSettlements:
    def __init__(self, db: Database, ledger: LedgerService, charges: ChargeSource, *,
                 clock: Callable[[], datetime], currency: str = "EUR") -> None:
        self.db = db
        self.ledger = ledger
        self.charges = charges
        self.clock = clock
        self.currency = currency

    def record(self, cmd: StationSettlement) -> SettlementRecorded:
        with self.db.read_sessions() as r:
            known = r.get(StationSettlementRow, cmd.psp_ref)
        if known is not None:
            log.info("payments.settlement_duplicate psp_ref=%s", cmd.psp_ref)
            return SettlementRecorded(cmd.psp_ref, known.session_id, known.reconciled, True)
        session_id, cdr_id, currency = self._session(cmd)
        amount = Money(cmd.amount, currency)
        charge = self.charges.charge(cdr_id, cmd.psp_ref) if cdr_id else None
        reconciled = _verdict(cmd, session_id, charge, amount)
        txn_id = None
        if cmd.status == "Settled" and not amount.is_zero():
            split = _split(charge, amount, self.charges.invoicing.operator_id)
            txn_id = self.ledger.post(postings.capture(
                Meta(key=settlement_key(cmd.psp_ref), reference=cmd.transaction_id or cmd.psp_ref,
                     at=cmd.settled_at), TERMINAL_PROVIDER, split.operator, split.net,
                split.vat)).id
        row = StationSettlementRow(
            psp_ref=cmd.psp_ref, station_id=cmd.station_id, transaction_id=cmd.transaction_id,
            session_id=session_id, status=cmd.status, amount=cmd.amount, currency=currency,
            receipt_id=cmd.receipt_id, settled_at=cmd.settled_at, reconciled=reconciled,
            ledger_transaction=txn_id, created_at=self.clock())
        try:
            with self.db.sessions() as s:
                s.add(row)
                s.commit()
        except IntegrityError:  # the same settlement twice at once: the ledger key held
            return SettlementRecorded(cmd.psp_ref, session_id, reconciled, True)
        log.info("payments.settlement psp_ref=%s station_id=%s transaction_id=%s status=%s "
                 "amount=%s reconciled=%s", cmd.psp_ref, cmd.station_id, cmd.transaction_id,
                 cmd.status, amount, reconciled)
        return SettlementRecorded(cmd.psp_ref, session_id, reconciled)

    def _session(self, cmd: StationSettlement) -> tuple[int | None, str | None, str]:
        if not cmd.transaction_id:
            return None, None, self.currency
        with UnitOfWork(self.db, read_only=True) as uow:
            session = uow.sessions.by_transaction(cmd.station_id, cmd.transaction_id)
            if session is None:
                return None, None, self.currency
            cdr = uow.cdrs.for_session(session.id)
            if cdr is None:
                return session.id, None, self.currency
            return session.id, cdr.id, cdr.currency


def _verdict(cmd: StationSettlement, session_id: int | None, charge: SessionCharge | None,
             amount: Money) -> str:
    if cmd.status != "Settled":
        return f"not settled ({cmd.status})"
    if session_id is None:
        return "no session for this transaction"
    if charge is None:
        return "session not rated yet"
    if charge.gross != amount:
        return f"amount differs: receipt {charge.gross}, settled {amount}"
    return "matched"


def _split(charge: SessionCharge | None, amount: Money, operator: str) -> SessionCharge:
    """The settled amount as net + VAT: the receipt's split, or its proportions."""
    if charge is None or charge.gross.is_zero():
        return SessionCharge("", operator, amount)
    net, vat = split_refund(charge.net, charge.vat, charge.gross, amount)
    return SessionCharge(charge.reference, charge.operator, net, vat)
