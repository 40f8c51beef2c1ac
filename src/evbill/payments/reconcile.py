"""Reconciliation: what the payment provider says happened (captures, refunds, payouts) against
what the ledger booked on the provider's clearing account, difference by difference.

A provider record is matched to the ledger transaction whose idempotency key the payment flows
derive from it (`payments:capture:<authorization>`, `payments:topup:<authorization>`,
`payments:refund:<our key>` via the refund's provider id, `payments:payout:<provider>:<id>`).
Differences: `missing in ledger`, `missing at provider`, `amount mismatch`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol, runtime_checkable

from sqlalchemy import select

from evbill.ledger import accounts as acc
from evbill.ledger.hashing import canonical_time
from evbill.ledger.tables import EntryRow, TransactionRow
from evbill.money import Money
from evbill.payments.tables import PaymentRefundRow, StationSettlementRow
from evbill.store.database import Database

__all__ = ["Difference", "Problem", "ProviderRecord", "RecordKind", "RecordSource",
           "TerminalRecords", "reconcile"]


class RecordKind(StrEnum):
    CAPTURE = "capture"
    REFUND = "refund"
    PAYOUT = "payout"
    SETTLEMENT = "settlement"  # a station terminal's payment (OCPP 2.1 NotifySettlement)


class Problem(StrEnum):
    MISSING_IN_LEDGER = "missing in ledger"
    MISSING_AT_PROVIDER = "missing at provider"
    AMOUNT_MISMATCH = "amount mismatch"


@dataclass(frozen=True, slots=True)
class ProviderRecord:
    """One money movement as the provider reports it (amounts positive)."""

    kind: RecordKind
    provider_ref: str  # capture, refund or payout id
    amount: Money
    at: datetime
    authorization_id: str | None = None  # captures: the hold they took


@runtime_checkable
class RecordSource(Protocol):
    name: str

    def records(self, since: datetime | None = None) -> list[ProviderRecord]: ...


@dataclass(frozen=True, slots=True)
class Difference:
    problem: Problem
    kind: str
    reference: str  # provider id, or the ledger key when the provider has nothing
    provider_amount: Money | None
    ledger_amount: Money | None


@dataclass(frozen=True, slots=True)
class _Booked:
    key: str
    kind: str
    amount: Money  # signed, on the clearing account: + captured, - refunded or paid out


def _clearing_bookings(db: Database, provider: str, since: datetime | None) -> dict[str, _Booked]:
    clearing = acc.provider_clearing(provider)
    stmt = (select(TransactionRow.idempotency_key, TransactionRow.kind, EntryRow.amount,
                   EntryRow.currency, TransactionRow.occurred_at)
            .join(EntryRow, EntryRow.transaction_id == TransactionRow.id)
            .where(EntryRow.account == clearing))
    booked: dict[str, _Booked] = {}
    with db.read_sessions() as r:
        for key, kind, amount, currency, occurred in r.execute(stmt):
            if since is not None and occurred < canonical_time(since):
                continue
            value = Money(Decimal(amount), currency)
            prior = booked.get(key)
            booked[key] = _Booked(key, kind, value if prior is None else prior.amount + value)
    return booked


def _refund_keys(db: Database, refund_ids: Iterable[str]) -> dict[str, str]:
    ids = list(refund_ids)
    if not ids:
        return {}
    with db.read_sessions() as r:
        rows = r.execute(select(PaymentRefundRow.provider_ref, PaymentRefundRow.idempotency_key)
                         .where(PaymentRefundRow.provider_ref.in_(ids)))
        return {ref: key for ref, key in rows if ref is not None}


def _candidates(record: ProviderRecord, provider: str, refund_keys: dict[str, str]) -> list[str]:
    if record.kind is RecordKind.CAPTURE:
        auth = record.authorization_id or ""
        return [f"payments:capture:{auth}", f"payments:topup:{auth}"]
    if record.kind is RecordKind.REFUND:
        key = refund_keys.get(record.provider_ref)
        return [] if key is None else [f"payments:refund:{key}"]
    if record.kind is RecordKind.SETTLEMENT:
        return [f"payments:station_settlement:{record.provider_ref}"]
    return [f"payments:payout:{provider}:{record.provider_ref}"]


def _abs(money: Money) -> Money:
    return Money(abs(money.amount), money.currency)


def reconcile(db: Database, source: RecordSource, *,
              since: datetime | None = None) -> list[Difference]:
    """Every difference between `source`'s records since `since` and the ledger."""
    records = source.records(since)
    booked = _clearing_bookings(db, source.name, since)
    refund_keys = _refund_keys(db, [r.provider_ref for r in records
                                    if r.kind is RecordKind.REFUND])
    seen: set[str] = set()
    out: list[Difference] = []
    for record in records:
        incoming = record.kind in {RecordKind.CAPTURE, RecordKind.SETTLEMENT}
        expected = record.amount if incoming else -record.amount
        match = next((booked[k] for k in _candidates(record, source.name, refund_keys)
                      if k in booked), None)
        if match is None:
            out.append(Difference(Problem.MISSING_IN_LEDGER, record.kind.value,
                                  record.provider_ref, record.amount, None))
            continue
        seen.add(match.key)
        if match.amount != expected:
            out.append(Difference(Problem.AMOUNT_MISMATCH, record.kind.value,
                                  record.provider_ref, record.amount, _abs(match.amount)))
    for key, entry in sorted(booked.items()):
        if key not in seen and entry.kind in {"capture", "wallet_topup", "refund", "payout"}:
            out.append(Difference(Problem.MISSING_AT_PROVIDER, entry.kind, key, None,
                                  _abs(entry.amount)))
    return out


class TerminalRecords:
    """Station-terminal settlements (OCPP 2.1) as their PSP reported them to the station."""

    name = "terminal"

    def __init__(self, db: Database) -> None:
        self.db = db

    def records(self, since: datetime | None = None) -> list[ProviderRecord]:
        stmt = select(StationSettlementRow).where(StationSettlementRow.status == "Settled")
        if since is not None:
            stmt = stmt.where(StationSettlementRow.settled_at >= since)
        with self.db.read_sessions() as r:
            rows = r.scalars(stmt.order_by(StationSettlementRow.settled_at)).all()
        return [ProviderRecord(RecordKind.SETTLEMENT, row.psp_ref, Money(row.amount, row.currency),
                               row.settled_at) for row in rows if row.amount != 0]
