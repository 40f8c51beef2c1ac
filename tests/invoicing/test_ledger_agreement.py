"""The ledger and the documents agree: sessions posted through the real payment service
(postpaid charges, a partial refund) and billed by invoicing have the same net; the VAT differs
by the invoice's single rounding on the sum of its nets (BR-CO-17), which issuing the
invoice books as a VAT rounding adjustment: receivables and VAT payable equal the documents."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select

from evbill.invoicing.billing_run import prepare_run, work
from evbill.invoicing.compose import BillingPeriod, payment_split
from evbill.invoicing.seed import SeedPlan, seed_month
from evbill.invoicing.service import InvoicingService
from evbill.invoicing.settings import InvoicingSettings
from evbill.invoicing.sources import charged_session
from evbill.invoicing.tables import DocumentRow
from evbill.ledger import accounts
from evbill.ledger.postings import VatLine
from evbill.ledger.service import LedgerService
from evbill.ledger.store import sql_unit_of_work
from evbill.money import Money
from evbill.payments.model import SessionCharge
from evbill.payments.providers.sandbox import SandboxProvider
from evbill.payments.service import PaymentService
from evbill.store.database import Database
from evbill.store.tables import CdrRow

NOW = datetime(2026, 11, 1, 5, 0, tzinfo=UTC)


def test_documents_total_what_the_ledger_booked(db: Database) -> None:
    settings = InvoicingSettings()
    invoicing = InvoicingService(db, settings)
    ledger = LedgerService(sql_unit_of_work(db))
    payments = PaymentService(db, SandboxProvider(namespace="t", webhook_secret="whsec_t"),
                              ledger, clock=lambda: NOW)  # fmt: skip
    with db.sessions() as s:
        seed_month(s, SeedPlan(accounts=3, sessions_per_account=4, charges=False), now=NOW)
        s.commit()
    with db.read_sessions() as s:
        references = list(s.execute(select(CdrRow.id).order_by(CdrRow.id)).scalars())
        sessions = [charged_session(s, ref, country="DE") for ref in references]
    for n, session in enumerate(sessions):
        net, vat = payment_split(session, settings.vat_table())
        charge = SessionCharge(session.reference, settings.operator_id, Money(net, "EUR"),
                               tuple(VatLine(c, r, Money(v, "EUR")) for c, r, v in vat))
        payments.post_to_account(f"acct-{n % 3:06d}", charge)

    october = BillingPeriod(2026, 10)
    prepare_run(invoicing, october, now=NOW)
    assert len(work(invoicing, october, worker="w", now=lambda: NOW, pdf=False).issued) == 3
    refund = payments.refund(references[4], Money(Decimal("1.23"), "EUR"), reason="EVSE fault",
                             actor="ops", key="rf-agree")  # fmt: skip
    credit = invoicing.issue_credit_note(refund.id, now=NOW)
    assert credit.totals.gross == Decimal("1.23")

    owed: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    vat_on_documents = Decimal(0)
    with db.read_sessions() as s:
        for row in s.execute(select(DocumentRow)).scalars():
            sign = -1 if row.doc_type == "CREDIT_NOTE" else 1
            owed[(row.account_id, row.currency)] += sign * row.total_gross
            vat_on_documents += sign * row.total_vat
    balances = {(line.account, line.currency): line.balance
                for line in ledger.trial_balance().lines}  # fmt: skip
    vat_owed = -sum((b for (acc, _), b in balances.items() if acc.startswith("liability:vat:")),
                    Decimal(0))  # fmt: skip
    # Payments post each session's VAT when it is charged; an invoice takes VAT once on the
    # sum of its nets (EN 16931 BR-CO-17), and issuing it books the difference (the VAT
    # rounding adjustment): each receivable is exactly what its documents say is owed, and
    # the VAT payable exactly the documents' VAT.
    for (account, currency), amount in owed.items():
        assert balances[(accounts.receivable(account), currency)] == amount
    assert vat_owed == vat_on_documents
    assert ledger.trial_balance().balanced
