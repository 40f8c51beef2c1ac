"""The demo's books after the money tour: the day's ledger root closed and one receipt's
inclusion proof checked, `ledger verify` and the trial balance, every document checked against
the payment it documents, and each document written out as PDF/A-3, CII and UBL XML.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from evbill.invoicing.cii import to_cii
from evbill.invoicing.tables import DocumentRow
from evbill.invoicing.ubl import to_ubl
from evbill.invoicing.vat_rounding import adjustment_key
from evbill.ledger.merkle import DailyRoot
from evbill.ledger.proof_check import check_proof
from evbill.ledger.store import sql_unit_of_work
from evbill.payments.tables import PaymentAuthorizationRow, PaymentChargeRow, PaymentRefundRow
from evbill.sim.money_world import MoneyWorld

__all__ = ["Books", "DocumentCheck", "LedgerCheck", "PaymentLine", "close_the_books"]

#: What each payment method is called in the summary.
METHODS = {"card": "card, captured (ad hoc)", "wallet": "wallet, debited",
           "postpaid": "postpaid, on the receivable"}


@dataclass(frozen=True, slots=True)
class PaymentLine:
    what: str
    count: int
    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class DocumentCheck:
    number: str
    kind: str  # RECEIPT | INVOICE | CREDIT_NOTE
    account: str
    currency: str
    total: Decimal  # the document's gross total
    paid: Decimal  # what the payments say it documents (captured, debited, posted, refunded)
    sessions: int
    files: tuple[Path, ...]

    @property
    def agrees(self) -> bool:
        return self.total == self.paid


@dataclass(frozen=True, slots=True)
class LedgerCheck:
    entries: int
    verified: bool
    problem: str | None
    balanced: bool
    root: DailyRoot
    proof_document: str
    proof_file: Path
    proof_ok: bool


@dataclass(frozen=True, slots=True)
class Books:
    payments: tuple[PaymentLine, ...]
    documents: tuple[DocumentCheck, ...]
    undocumented: tuple[str, ...]  # payments with no document (should be none)
    ledger: LedgerCheck
    documents_dir: Path


def payment_lines(world: MoneyWorld) -> tuple[PaymentLine, ...]:
    """Sessions paid per method, holds placed and released, top-ups and refunds."""
    totals: dict[str, tuple[int, Decimal, str]] = {}
    with world.db.read_sessions() as r:
        charges = r.scalars(select(PaymentChargeRow)).all()
        holds = r.scalars(select(PaymentAuthorizationRow)).all()
        refunds = r.scalars(select(PaymentRefundRow)).all()
    for c in charges:
        count, amount, _ = totals.get(c.method, (0, Decimal(0), c.currency))
        totals[c.method] = (count + 1, amount + c.gross, c.currency)
    lines = [PaymentLine(METHODS.get(m, m), *totals[m]) for m in METHODS if m in totals]
    sessions = [h for h in holds if h.purpose == "session"]
    topups = [h for h in holds if h.purpose != "session"]
    released = sum((c.released or Decimal(0) for c in charges), Decimal(0))
    lines += [
        PaymentLine("card holds placed (at start)", len(sessions),
                    sum((h.amount_held for h in sessions), Decimal(0)), "EUR"),
        PaymentLine("card holds released (unused)", len(sessions), released, "EUR"),
        PaymentLine("wallet top-ups by card", len(topups),
                    sum((h.amount_held for h in topups), Decimal(0)), "EUR"),
        PaymentLine("refunds", len(refunds), sum((f.amount for f in refunds), Decimal(0)),
                    "EUR"),
    ]
    return tuple(lines)


def _safe(number: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in number)


def export_documents(world: MoneyWorld, folder: Path) -> dict[str, tuple[Path, ...]]:
    """Each issued document's PDF/A-3 (Factur-X), CII and UBL XML in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    with world.db.read_sessions() as r:
        numbers = list(r.scalars(select(DocumentRow.number).order_by(DocumentRow.id)))
    written: dict[str, tuple[Path, ...]] = {}
    for number in numbers:
        doc = world.invoicing.find(number)
        base = folder / _safe(number)
        files = (base.with_suffix(".pdf"), Path(f"{base}.cii.xml"), Path(f"{base}.ubl.xml"))
        files[0].write_bytes(world.invoicing.pdf(number))
        files[1].write_bytes(to_cii(doc))
        files[2].write_bytes(to_ubl(doc))
        written[number] = files
    return written


def check_documents(world: MoneyWorld, files: dict[str, tuple[Path, ...]],
                    ) -> tuple[tuple[DocumentCheck, ...], tuple[str, ...]]:
    """Every document against its payment: a receipt equals the captured or debited charge, an
    invoice the postpaid charges on it, a credit note its refund; and every payment has one."""
    with world.db.read_sessions() as r:
        charges = {c.reference: c for c in r.scalars(select(PaymentChargeRow))}
        refunds = {f.id: f for f in r.scalars(select(PaymentRefundRow))}
        rows = list(r.scalars(select(DocumentRow).order_by(DocumentRow.id)))
    checks, documented = [], set()
    for row in rows:
        kind, _, key = row.source_key.partition(":")
        doc = world.invoicing.find(row.number)
        references = [b.reference for b in doc.sessions]
        if kind == "credit":
            paid = refunds[key].amount if key in refunds else Decimal(-1)
            documented.add(f"refund {key}")
        else:
            paid = sum((charges[ref].gross for ref in references if ref in charges), Decimal(0))
            if kind == "invoice":  # plus its booked VAT rounding adjustment (BR-CO-17)
                paid += _rounding_booked(world, row.source_key)
            documented.update(f"charge {ref}" for ref in references)
        checks.append(DocumentCheck(row.number, row.doc_type, row.account_id, row.currency,
                                    abs(row.total_gross), paid, len(references),
                                    files.get(row.number, ())))
    expected = {f"charge {ref}" for ref in charges} | {f"refund {rid}" for rid in refunds}
    return tuple(checks), tuple(sorted(expected - documented))


def _rounding_booked(world: MoneyWorld, source_key: str) -> Decimal:
    """What the invoice's VAT rounding adjustment moved on the customer's receivable (0 when
    none was booked), read from the ledger, not recomputed."""
    with sql_unit_of_work(world.db)() as uow:
        entries = uow.repo.entries_of_key(adjustment_key(source_key))
    return sum((Decimal(e.amount) for e in entries
                if e.account.startswith("asset:receivable:")), Decimal(0))


def _payment_transaction(world: MoneyWorld, receipt: str) -> str | None:
    """The ledger transaction of the payment `receipt` documents."""
    with world.db.read_sessions() as r:
        return r.scalar(select(PaymentChargeRow.ledger_transaction)
                        .join(DocumentRow, DocumentRow.source_key
                              == "receipt:" + PaymentChargeRow.reference)
                        .where(DocumentRow.number == receipt))


def close_and_prove(world: MoneyWorld, day: date, folder: Path, number: str,
                    ) -> tuple[DailyRoot, Path, bool]:
    """Close `day`'s Merkle root; check receipt `number`'s inclusion proof against it (as a
    third party would, with `ledger/proof_check.py`) and keep the proof beside the PDFs."""
    root = world.ledger.close_day(day)
    transaction = _payment_transaction(world, number)
    doc = world.invoicing.with_final_proof(world.invoicing.find(number))
    proof = doc.proof or {}
    ok = (check_proof(proof, root.root) and proof.get("day") == day.isoformat()
          and proof.get("transaction_id") == transaction)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{_safe(number)}.proof.json"
    path.write_text(json.dumps(proof, indent=2) + "\n", encoding="utf-8")
    return root, path, ok and transaction is not None


def close_the_books(world: MoneyWorld, day: date, folder: Path, receipt: str) -> Books:
    """Close the day, prove `receipt`, verify the ledger, write and check every document."""
    root, proof_path, proof_ok = close_and_prove(world, day, folder, receipt)
    report = world.ledger.verify()
    balance = world.ledger.trial_balance()
    files = export_documents(world, folder)
    checks, undocumented = check_documents(world, files)
    problem = None if report.problem is None else str(report.problem)
    ledger = LedgerCheck(world.ledger.entry_count(), report.ok, problem,
                         balance.balanced, root, receipt, proof_path, proof_ok)
    return Books(payment_lines(world), checks, undocumented, ledger, folder)

