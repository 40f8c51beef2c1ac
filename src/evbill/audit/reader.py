"""Reading the four sources from the store into `SessionAudit`s, and running the audit.

Every payment, document line and ledger posting is tied to its session's CDR through the
reference it carries (a CDR id, a session id or a session payment's reference), as receipts
and settlement resolve it. `--period YYYY-MM` takes the sessions that ended in that UTC month
and everything that belongs to them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Final

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from evbill.audit.compare import (
    AuditReport,
    DocumentAudit,
    Figures,
    SessionAudit,
    Source,
    compare_document,
    compare_session,
)
from evbill.audit.rated import rated_net
from evbill.invoicing.tables import DocumentLineRow, DocumentRow, DocumentSessionRow
from evbill.invoicing.vat_rounding import KEY_PREFIX as ROUNDING_KEY
from evbill.ledger.tables import EntryRow, TransactionRow
from evbill.payments.tables import PaymentChargeRow, PaymentRefundRow, SessionPaymentRow
from evbill.store.database import Database
from evbill.store.tables import CdrRow, SessionRow

__all__ = ["AuditPeriod", "run_audit"]

_SALES: Final = ("capture", "wallet_spend", "postpaid_charge", "adjustment", "reversal")
_REVENUE: Final = "revenue:charging:"
_REFUNDS: Final = "revenue:refunds:"
_VAT: Final = "liability:vat:"
_ROUNDING: Final = "vat_rounding"
Progress = Callable[[str, int], None]  # (stage, items done since the last call)


@dataclass(frozen=True, slots=True)
class AuditPeriod:
    """A UTC calendar month (`YYYY-MM`)."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> AuditPeriod:
        year, _, month = text.partition("-")
        if not (len(year) == 4 and year.isdigit() and len(month) == 2 and month.isdigit()
                and 1 <= int(month) <= 12):
            raise ValueError(f"period: {text!r} is not YYYY-MM")
        return cls(int(year), int(month))

    def bounds(self) -> tuple[datetime, datetime]:
        start = datetime(self.year, self.month, 1, tzinfo=UTC)
        year, month = (self.year + 1, 1) if self.month == 12 else (self.year, self.month + 1)
        return start, datetime(year, month, 1, tzinfo=UTC)


class _World:
    """The sessions in scope and the reference → CDR resolution shared by every source."""

    def __init__(self, s: Session, period: AuditPeriod | None, progress: Progress) -> None:
        self.audits: dict[tuple[str, str], SessionAudit] = {}
        self.in_scope: set[str] = set()
        self.period = period
        self.cdr_of_session: dict[int, str] = {}
        self.progress = progress
        ended = func.coalesce(SessionRow.stopped_at, SessionRow.started_at)
        query = (select(CdrRow.id, CdrRow.session_id, CdrRow.currency, CdrRow.ocpi_json, ended)
                 .join(SessionRow, SessionRow.id == CdrRow.session_id))
        start, end = period.bounds() if period else (None, None)
        for cdr_id, session_id, currency, ocpi, when in s.execute(query):
            self.cdr_of_session[session_id] = cdr_id
            if start is not None and end is not None and not start <= _utc(when) < end:
                continue
            self.in_scope.add(cdr_id)
            audit = self.audit(cdr_id, currency)
            figures = audit.of(Source.RATED)
            figures.present = True
            figures.net, audit.allowance = rated_net(json.loads(ocpi, parse_float=Decimal),
                                                     currency)  # fmt: skip
            progress("sessions", 1)
        self.by_payment_ref = {
            ref: self.cdr_of_session[sid] for ref, sid in s.execute(
                select(SessionPaymentRow.reference, SessionPaymentRow.session_id)
                .where(SessionPaymentRow.session_id.is_not(None)))
            if sid in self.cdr_of_session}  # fmt: skip
        self.cdr_ids = set(self.cdr_of_session.values())
        #: invoices by source key, and the invoice (source key) each session is on
        self.invoices: dict[str, DocumentAudit] = {}
        self.invoice_of: dict[str, str] = {}

    def invoice(self, reference: str) -> DocumentAudit | None:
        """The invoice the reference's session is on (in or out of the period), if any."""
        key = self.invoice_of.get(self.resolve(reference))
        return None if key is None else self.invoices[key]

    def audit(self, session: str, currency: str) -> SessionAudit:
        key = (session, currency)
        if key not in self.audits:
            self.audits[key] = SessionAudit(session, currency)
        return self.audits[key]

    def resolve(self, reference: str) -> str:
        """The CDR a reference names (the reference itself when it names none: not rated)."""
        if reference in self.cdr_ids:
            return reference
        if reference in self.by_payment_ref:
            return self.by_payment_ref[reference]
        if reference.isdigit() and int(reference) in self.cdr_of_session:
            return self.cdr_of_session[int(reference)]
        return reference

    def figures(self, reference: str, currency: str, source: Source,
                when: datetime | None = None) -> Figures | None:  # fmt: skip
        """The source's figures of the reference's session, or None when out of scope."""
        session = self.resolve(reference)
        if session not in self.in_scope:
            if session in self.cdr_ids:  # rated, but outside the period
                return None
            if self.period is not None:  # not rated: in scope by its own date
                start, end = self.period.bounds()
                if when is None or not start <= _utc(when) < end:
                    return None
        figures = self.audit(session, currency).of(source)
        figures.present = True
        return figures


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _charges(s: Session, world: _World, report: AuditReport) -> None:
    refunded: dict[str, Decimal] = {}
    for charge_id, amount in s.execute(
            select(PaymentRefundRow.charge_id, PaymentRefundRow.amount)
            .where(PaymentRefundRow.status != "failed")):  # fmt: skip
        refunded[charge_id] = refunded.get(charge_id, Decimal(0)) + amount
    for row in s.scalars(select(PaymentChargeRow)):
        figures = world.figures(row.reference, row.currency, Source.CHARGED, row.created_at)
        world.progress("payments", 1)
        invoice = world.invoice(row.reference)
        if invoice is not None:
            for line in row.vat or ():
                invoice.add(invoice.charged, line["rate"], Decimal(str(line["amount"])))
        if figures is None:
            continue
        report.payments += 1
        figures.net += row.net
        for line in row.vat or ():
            figures.add_vat(line["rate"], Decimal(str(line["amount"])))
        figures.refund_gross += refunded.get(row.id, Decimal(0))


def _documents(s: Session, world: _World, report: AuditReport) -> None:
    query = (select(DocumentRow.id, DocumentRow.doc_type, DocumentRow.currency,
                    DocumentRow.issued_at, DocumentRow.number, DocumentRow.source_key,
                    DocumentSessionRow.reference, DocumentSessionRow.cdr_id, DocumentLineRow.net,
                    DocumentLineRow.vat, DocumentLineRow.vat_rate)
             .join(DocumentSessionRow, DocumentSessionRow.document_id == DocumentRow.id)
             .join(DocumentLineRow, and_(
                 DocumentLineRow.document_id == DocumentSessionRow.document_id,
                 DocumentLineRow.session_position == DocumentSessionRow.position)))
    seen: set[int] = set()
    for (doc_id, kind, currency, issued, number, key, reference, cdr_id, net, vat,
         rate) in s.execute(query):  # fmt: skip
        ref = cdr_id if cdr_id is not None and cdr_id in world.cdr_ids else reference
        invoice = None
        if kind == "INVOICE":  # VAT per invoice and rate (BR-CO-17), whatever the period
            invoice = world.invoices.setdefault(key, DocumentAudit(number, currency))
            invoice.add(invoice.documented, rate, vat)
            world.invoice_of[world.resolve(ref)] = key
        figures = world.figures(ref, currency, Source.DOCUMENTED, issued)
        if figures is None:
            continue
        if doc_id not in seen:
            seen.add(doc_id)
            world.progress("documents", 1)
        if kind == "CREDIT_NOTE":
            figures.refund_gross += net + vat
            figures.add_vat(rate, vat, refund=True)
        elif invoice is not None:
            invoice.in_scope = True
            world.audit(world.resolve(ref), currency).invoice = number
            figures.net += net
        else:
            figures.net += net
            figures.add_vat(rate, vat)
    report.documents = len(seen)


def _rounding(world: _World, key: str, reference: str, currency: str, when: datetime,
              account: str, amount: Decimal) -> bool:  # fmt: skip
    """An invoice's VAT rounding adjustment entry; False when out of the period."""
    source = key.removeprefix(ROUNDING_KEY)
    invoice = world.invoices.get(source)
    if invoice is None:  # adjusts no invoice there is: its VAT shows against nothing
        if world.period is not None:
            start, end = world.period.bounds()
            if not start <= _utc(when) < end:
                return False
        invoice = world.invoices[source] = DocumentAudit(reference, currency, in_scope=True)
    elif not invoice.in_scope:
        return False
    if invoice.adjustment is None:
        invoice.adjustment = {}
    if account.startswith(_VAT):
        invoice.adjust(account.rsplit(":", 1)[1], -amount)
    return True


def _postings(s: Session, world: _World, report: AuditReport) -> None:
    query = (select(TransactionRow.id, TransactionRow.idempotency_key, TransactionRow.reference,
                    TransactionRow.kind, TransactionRow.occurred_at, EntryRow.account,
                    EntryRow.amount, EntryRow.currency)
             .join(EntryRow, EntryRow.transaction_id == TransactionRow.id)
             .where(TransactionRow.kind.in_((*_SALES, "refund", _ROUNDING))))
    seen: set[str] = set()
    for txn, key, reference, kind, occurred, account, text, currency in s.execute(query):
        when = datetime.fromisoformat(occurred.replace("Z", "+00:00"))
        amount = Decimal(text)
        if kind == _ROUNDING:
            if _rounding(world, key, reference, currency, when, account, amount) \
                    and txn not in seen:
                seen.add(txn)
                world.progress("ledger", 1)
            continue
        invoice = world.invoice(reference) if kind != "refund" else None
        if invoice is not None and account.startswith(_VAT):
            invoice.add(invoice.booked, account.rsplit(":", 1)[1], -amount)
        figures = world.figures(reference, currency, Source.BOOKED, when)
        if figures is None:
            continue
        if txn not in seen:
            seen.add(txn)
            world.progress("ledger", 1)
        if kind == "refund":
            if account.startswith((_REFUNDS, _VAT)):
                figures.refund_gross += amount
            if account.startswith(_VAT):
                figures.add_vat(account.rsplit(":", 1)[1], amount, refund=True)
        elif account.startswith(_REVENUE):
            figures.net -= amount
        elif account.startswith(_VAT):
            figures.add_vat(account.rsplit(":", 1)[1], -amount)
    report.postings = len(seen)


def _ignore(stage: str, done: int) -> None:
    return None


def run_audit(db: Database, period: AuditPeriod | None = None, *,
              progress: Progress = _ignore) -> AuditReport:  # fmt: skip
    """Walk sessions, payments, documents and ledger postings; every mismatch, per session."""
    report = AuditReport()
    with db.read_sessions() as s:
        world = _World(s, period, progress)
        _documents(s, world, report)  # first: which sessions are on an invoice
        _charges(s, world, report)
        _postings(s, world, report)
    report.sessions = len(world.audits)
    report.mismatches = [m for audit in sorted(world.audits.values(),
                                               key=lambda a: (a.session, a.currency))
                         for m in compare_session(audit)]  # fmt: skip
    report.mismatches += [m for doc in sorted(world.invoices.values(),
                                              key=lambda d: (d.number, d.currency))
                          if doc.in_scope for m in compare_document(doc)]  # fmt: skip
    return report


def audit_counts(db: Database) -> Iterator[tuple[str, int]]:
    """How many rows each stage walks (for a progress bar)."""
    with db.read_sessions() as s:
        yield "sessions", s.scalar(select(func.count()).select_from(CdrRow)) or 0
        yield "payments", s.scalar(select(func.count()).select_from(PaymentChargeRow)) or 0
        yield "documents", s.scalar(select(func.count()).select_from(DocumentRow)) or 0
        yield "ledger", s.scalar(select(func.count()).select_from(TransactionRow).where(
            TransactionRow.kind.in_((*_SALES, "refund", _ROUNDING)))) or 0
