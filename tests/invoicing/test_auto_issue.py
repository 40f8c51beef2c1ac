"""Automatic issuing through the payments hook, on SQLite and PostgreSQL: a receipt after a
card capture and after a wallet payment, a credit note after a full and a partial refund, each
once however often the event repeats, the catch-up pass, the ledger proof (anchor while the day
is open, inclusion proof once it is closed) and documents that total what the ledger booked."""

from __future__ import annotations

import subprocess
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from evbill.invoicing.auto import DocumentIssuer
from evbill.invoicing.compose import payment_split
from evbill.invoicing.model import Document, DocumentType
from evbill.invoicing.pdf_batch import render_batch
from evbill.invoicing.seed import SeedPlan, seed_month
from evbill.invoicing.service import InvoicingService
from evbill.invoicing.settings import InvoicingSettings
from evbill.invoicing.sources import charged_session
from evbill.invoicing.tables import DocumentRow
from evbill.ledger import accounts
from evbill.ledger.postings import VatLine
from evbill.ledger.proof_check import check_proof
from evbill.ledger.service import LedgerService
from evbill.ledger.store import sql_unit_of_work
from evbill.money import Money
from evbill.payments.model import SessionCharge
from evbill.payments.providers import sandbox_vault as cards
from evbill.payments.providers.sandbox import SandboxProvider
from evbill.payments.service import PaymentService
from evbill.store.database import Database
from evbill.store.tables import CdrRow

NOW = datetime(2026, 11, 1, 5, 0, tzinfo=UTC)
DRIVER = "drv-1"


class World:
    """Sessions in the store, payments with the document issuer listening, the ledger."""

    def __init__(self, db: Database, *, listen: bool = True) -> None:
        self.db = db
        self.settings = InvoicingSettings()
        self.invoicing = InvoicingService(db, self.settings)  # ledger proofs by default
        self.issuer = DocumentIssuer(self.invoicing, lambda: NOW)
        self.ledger = LedgerService(sql_unit_of_work(db))
        self.payments = PaymentService(
            db, SandboxProvider(namespace="t", webhook_secret="whsec_t"), self.ledger,
            clock=lambda: NOW, listeners=[self.issuer] if listen else [])
        with db.sessions() as s:
            seed_month(s, SeedPlan(accounts=1, sessions_per_account=4, charges=False), now=NOW)
            s.commit()
        with db.read_sessions() as s:
            self.references = list(s.execute(select(CdrRow.id).order_by(CdrRow.id)).scalars())

    def charge(self, reference: str) -> SessionCharge:
        with self.db.read_sessions() as s:
            session = charged_session(s, reference, country="DE")
        net, vat = payment_split(session, self.settings.vat_table())
        return SessionCharge(reference, self.settings.operator_id, Money(net, "EUR"),
                             tuple(VatLine(c, r, Money(v, "EUR")) for c, r, v in vat))

    def pay_by_card(self, reference: str) -> None:
        token = self.payments.add_card(DRIVER, cards.CARD_SUCCESS, 12, 2030, "123").token
        self.payments.authorize_hold(reference=reference, account=DRIVER,
                                     payment_method_token=token)
        assert self.payments.capture(self.charge(reference)) == "captured"

    def pay_from_wallet(self, reference: str) -> None:
        token = self.payments.add_card(DRIVER, cards.CARD_SUCCESS, 12, 2030, "123").token
        self.payments.top_up(DRIVER, Money.of("200.00", "EUR"), token, f"top-{reference}")
        self.payments.pay_from_wallet(DRIVER, self.charge(reference))

    def documents(self, doc_type: DocumentType | None = None) -> list[Document]:
        with self.db.read_sessions() as s:
            query = select(DocumentRow.number).order_by(DocumentRow.id)
            if doc_type is not None:
                query = query.where(DocumentRow.doc_type == doc_type.value)
            numbers = list(s.scalars(query))
        return [self.invoicing.find(n) for n in numbers]

    def count(self) -> int:
        with self.db.read_sessions() as s:
            return int(s.scalar(select(func.count()).select_from(DocumentRow)) or 0)


@pytest.fixture
def world(db: Database) -> World:
    return World(db)


def test_card_capture_issues_the_receipt_with_the_ledger_anchor(world: World) -> None:
    reference = world.references[0]
    world.pay_by_card(reference)
    [receipt] = world.documents()
    assert receipt.doc_type is DocumentType.RECEIPT
    assert [b.reference for b in receipt.sessions] == [reference]
    with world.db.read_sessions() as s:
        gross = s.scalar(select(func.sum(DocumentRow.total_gross)))
    assert receipt.totals.gross == world.charge(reference).gross.amount == gross
    proof = receipt.proof
    assert proof is not None and proof["status"] == "pending" and proof["day"] == "2026-11-01"
    txn = world.ledger.transaction(proof["transaction_id"])
    assert txn is not None and txn.reference == reference
    assert txn.idempotency_key.startswith("payments:capture:")


def test_wallet_payment_issues_the_receipt(world: World) -> None:
    reference = world.references[1]
    world.pay_from_wallet(reference)
    [receipt] = world.documents()
    assert receipt.doc_type is DocumentType.RECEIPT
    assert receipt.payment_note == "Paid from the prepaid wallet; nothing is due"
    assert receipt.totals.gross == world.charge(reference).gross.amount
    assert receipt.proof is not None
    txn = world.ledger.transaction(receipt.proof["transaction_id"])
    assert txn is not None and txn.idempotency_key == f"payments:wallet_spend:{reference}"


def test_repeated_events_issue_nothing_twice(world: World) -> None:
    card_ref, wallet_ref = world.references[:2]
    world.pay_by_card(card_ref)
    world.pay_from_wallet(wallet_ref)
    assert world.payments.capture(world.charge(card_ref)) == "captured"  # repeated capture
    world.payments.pay_from_wallet(DRIVER, world.charge(wallet_ref))  # repeated debit
    world.issuer.on_paid(card_ref)  # a redelivered event
    world.issuer.on_paid(wallet_ref)
    refund = world.payments.refund(card_ref, Money.of("1.00", "EUR"), reason="fault",
                                   actor="ops", key="rf-1")
    again = world.payments.refund(card_ref, Money.of("1.00", "EUR"), reason="fault",
                                  actor="ops", key="rf-1")
    assert again.id == refund.id
    world.issuer.on_refunded(refund.id, card_ref)
    assert world.issuer.catch_up().receipts == []
    types = [d.doc_type for d in world.documents()]
    assert types == [DocumentType.RECEIPT, DocumentType.RECEIPT, DocumentType.CREDIT_NOTE]


@pytest.mark.parametrize("pay", ["card", "wallet"])
def test_full_refund_issues_a_credit_note_for_the_whole_receipt(world: World, pay: str) -> None:
    reference = world.references[2]
    world.pay_by_card(reference) if pay == "card" else world.pay_from_wallet(reference)
    world.payments.refund(reference, None, reason="station fault", actor="ops", key="rf-full")
    receipt, credit = world.documents()
    assert credit.doc_type is DocumentType.CREDIT_NOTE
    assert credit.corrects_number == receipt.number
    assert credit.totals.gross == receipt.totals.gross
    assert credit.totals.vat == receipt.totals.vat
    assert credit.reason == "station fault"


def test_partial_refund_issues_a_credit_note_for_the_amount(world: World) -> None:
    reference = world.references[3]
    world.pay_by_card(reference)
    world.payments.refund(reference, Money.of("1.23", "EUR"), reason="idle fee waived",
                          actor="ops", key="rf-part")
    world.payments.refund(reference, Money.of("0.50", "EUR"), reason="goodwill",
                          actor="ops", key="rf-part-2")
    receipt, first, second = world.documents()
    assert first.corrects_number == second.corrects_number == receipt.number
    assert (first.totals.gross, second.totals.gross) == (Decimal("1.23"), Decimal("0.50"))
    assert first.totals.net + first.totals.vat == Decimal("1.23")


def test_catch_up_issues_what_the_listener_missed(db: Database) -> None:
    world = World(db, listen=False)
    card_ref, wallet_ref = world.references[:2]
    world.pay_by_card(card_ref)
    world.pay_from_wallet(wallet_ref)
    refund = world.payments.refund(card_ref, Money.of("2.00", "EUR"), reason="fault",
                                   actor="ops", key="rf-late")
    assert world.count() == 0
    done = world.issuer.catch_up()
    assert sorted(done.receipts) == sorted([card_ref, wallet_ref])
    assert done.credit_notes == [refund.id]  # after its receipt, in the same pass
    assert world.issuer.catch_up().receipts == world.issuer.catch_up().credit_notes == []
    assert world.count() == 3


def test_a_failing_listener_leaves_the_payment_standing(db: Database) -> None:
    world = World(db)

    class Broken:
        def on_paid(self, reference: str) -> None:
            raise RuntimeError("invoicing database down")

        def on_refunded(self, refund_id: str, reference: str) -> None:
            raise RuntimeError("invoicing database down")

    world.payments.ctx.listeners = [Broken()]
    world.pay_by_card(world.references[0])
    assert world.count() == 0
    refund = world.payments.refund(world.references[0], None, reason="fault", actor="ops",
                                   key="rf-broken")
    assert world.count() == 0
    done = world.issuer.catch_up()
    assert (done.receipts, done.credit_notes) == ([world.references[0]], [refund.id])


def test_receipt_pdf_carries_the_proof_once_the_day_is_closed(world: World,
                                                             tmp_path: Path) -> None:
    reference = world.references[0]
    world.pay_by_card(reference)
    [receipt] = world.documents()
    assert receipt.proof is not None
    pending = world.invoicing.pdf(receipt.number)
    assert receipt.proof["entry_hash"] in _text(pending, tmp_path)
    with world.db.read_sessions() as s:
        assert s.scalar(select(DocumentRow.pdf)) is None  # the stored copy waits for the root
    root = world.ledger.close_day(NOW.date())
    final = world.invoicing.pdf(receipt.number)
    assert root.root[:40] in _text(final, tmp_path).replace("\n", "")
    with world.db.read_sessions() as s:
        assert s.scalar(select(DocumentRow.pdf)) == final
    proof = world.invoicing.with_final_proof(world.invoicing.find(receipt.number)).proof
    assert proof is not None and proof["entry_hash"] == receipt.proof["entry_hash"]
    assert check_proof(proof, root.root)


def test_documents_and_ledger_agree(world: World) -> None:
    first, second, third = world.references[:3]
    world.pay_by_card(first)
    world.pay_from_wallet(second)
    world.pay_by_card(third)
    world.payments.refund(first, Money.of("1.11", "EUR"), reason="fault", actor="ops",
                          key="rf-a")
    world.payments.refund(second, None, reason="fault", actor="ops", key="rf-b")
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for doc in world.documents():
        sign = -1 if doc.doc_type is DocumentType.CREDIT_NOTE else 1
        totals["gross"] += sign * doc.totals.gross
        totals["vat"] += sign * doc.totals.vat
    balances = {line.account: line.balance for line in world.ledger.trial_balance().lines
                if line.currency == "EUR"}
    operator = world.settings.operator_id
    net_revenue = -(balances[accounts.revenue(operator)] + balances[accounts.refunds(operator)])
    vat = -sum((b for a, b in balances.items() if a.startswith("liability:vat:")), Decimal(0))
    assert totals["vat"] == vat
    assert totals["gross"] == net_revenue + vat
    assert world.ledger.trial_balance().balanced


def _text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                         check=True, text=True)
    return out.stdout


def test_bulk_rendering_waits_for_the_closed_day(world: World) -> None:
    world.pay_by_card(world.references[0])
    [receipt] = world.documents()
    assert render_batch(world.invoicing, [receipt.number]) == 0  # anchor only: not stored yet
    world.ledger.close_day(NOW.date())
    assert render_batch(world.invoicing, [receipt.number]) == 1
    with world.db.read_sessions() as s:
        assert s.scalar(select(DocumentRow.pdf)) is not None
