"""Issuing documents with the store: one unit of work per document, numbered under the series
lock, idempotent by source key (a second call returns the first document unchanged).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from evbill.invoicing.cii import to_cii
from evbill.invoicing.compose import (
    BillingPeriod,
    ChargedSession,
    Issue,
    compose_credit_note,
    compose_invoice,
    compose_receipt,
)
from evbill.invoicing.einvoice import is_iban
from evbill.invoicing.model import Document, DocumentError, Party
from evbill.invoicing.numbering import SeriesKey
from evbill.invoicing.payment_means import credit_means, paid_means
from evbill.invoicing.pdf import render_pdf
from evbill.invoicing.proofs import LedgerProofs, is_pending
from evbill.invoicing.repository import document_by_key, load_document, next_number, save_document
from evbill.invoicing.settings import InvoicingSettings, get_invoicing_settings
from evbill.invoicing.sources import charged_session, customer_party, uninvoiced_sessions
from evbill.invoicing.tables import BillingCustomerRow, DocumentRow, DocumentSessionRow
from evbill.invoicing.vat_rounding import book_vat_rounding
from evbill.payments.mandates import active_mandate
from evbill.payments.refusals import Invalid
from evbill.payments.sepa import check_creditor_id
from evbill.payments.tables import PaymentChargeRow, PaymentRefundRow
from evbill.store.database import Database

__all__ = ["DocumentNotFound", "InvoicingService"]

log = logging.getLogger(__name__)

#: Payment methods that are settled at once and get a receipt.
_PAID_BY = ("card", "wallet")

#: (session reference, ledger transaction id or None) → the receipt's ledger proof, or an
#: anchor with `"status": "pending"` while the transaction's day has no Merkle root yet.
ProofLookup = Callable[[str, str | None], dict[str, Any] | None]


class DocumentNotFound(DocumentError):
    """No document with that number (or for that payment) exists."""


class InvoicingService:
    """Receipts, monthly invoices and credit notes: the only writer of invoicing tables."""

    def __init__(
        self, db: Database, settings: InvoicingSettings | None = None, *,
        proofs: ProofLookup | None = None,
    ) -> None:  # fmt: skip
        self.db = db
        self.settings = settings or get_invoicing_settings()
        self._vat = self.settings.vat_table()
        self._rules = self.settings.vat_rules()
        self._issuer = self.settings.issuer()
        self._proofs: ProofLookup = proofs or LedgerProofs(db)

    # --- customers ------------------------------------------------------------------------
    def set_customer(self, account_id: str, party: Party, *, now: datetime) -> None:
        with self.db.sessions() as s:
            row = s.get(BillingCustomerRow, account_id) or BillingCustomerRow(account_id=account_id)
            row.name, row.street, row.postcode = party.name, party.street, party.postcode
            row.city, row.country, row.vat_id = party.city, party.country, party.vat_id
            row.email, row.updated_at = party.email, now
            s.add(row)
            s.commit()

    def _customer(self, s: Session, account_id: str) -> Party:
        """The account's billing profile (accounts), else its legacy billing customer row,
        else an anonymous payer: a simplified invoice (art. 226b) names no address."""
        party = customer_party(s, account_id)
        if party is not None:
            return party
        row = s.get(BillingCustomerRow, account_id)
        if row is None:
            return Party(name=f"Customer {account_id}", street="", postcode="", city="",
                         country=self.settings.issuer_country)  # fmt: skip
        return Party(name=row.name, street=row.street, postcode=row.postcode, city=row.city,
                     country=row.country, vat_id=row.vat_id, email=row.email)  # fmt: skip

    def _issue(self, s: Session, account_id: str, now: datetime) -> Issue:
        return Issue(issuer=self._issuer, customer=self._customer(s, account_id),
                     operator_id=self.settings.operator_id, account_id=account_id,
                     issued_at=now, time_zone=self.settings.time_zone, vat=self._vat,
                     rules=self._rules)  # fmt: skip

    # --- issuing --------------------------------------------------------------------------
    def _number_and_save(self, s: Session, doc: Document, corrects_id: int | None = None
                         ) -> Document:  # fmt: skip
        """Take the next number (series row locked until commit) and insert the document."""
        key = SeriesKey(doc.operator_id, doc.doc_type, doc.issue_date.year,
                        template=self.settings.number_template,
                        code=self.settings.number_code)  # fmt: skip
        number, seq = next_number(s, key)
        numbered = doc.numbered(number)
        save_document(s, numbered, series=key.name, seq=seq, corrects_id=corrects_id)
        return numbered

    def _commit_or_existing(self, s: Session, doc: Document) -> Document:
        try:
            s.commit()
        except IntegrityError:
            s.rollback()  # another worker issued it first; its number stands, ours is void
            row = document_by_key(s, doc.source_key)
            if row is None:
                raise
            return load_document(s, row)
        log.info("invoice.issued number=%s type=%s account=%s gross=%s currency=%s sessions=%d",
                 doc.number, doc.doc_type.value, doc.account_id, doc.totals.gross,
                 doc.currency, len(doc.sessions))  # fmt: skip
        return doc

    def issue_receipt(self, reference: str, *, now: datetime,
                      proof: dict[str, Any] | None = None) -> Document:  # fmt: skip
        """The receipt of a session paid by card or wallet (once; later calls return it)."""
        with self.db.sessions() as s:
            existing = document_by_key(s, f"receipt:{reference}")
            if existing is not None:
                return load_document(s, existing)
            charge = _charge(s, reference)
            if charge.method not in _PAID_BY:
                raise DocumentError(f"reference: session {reference} is {charge.method}; "
                                    "postpaid sessions go on the monthly invoice")
            if proof is None:
                proof = self._proofs(reference, charge.ledger_transaction)
            means, note, details = paid_means(s, charge)
            session = charged_session(s, reference, country=self.settings.issuer_country)
            doc = compose_receipt(self._issue(s, charge.account, now), session,
                                  payment_note=note, payment_means=means,
                                  payment_details=details, proof=proof)  # fmt: skip
            return self._commit_or_existing(s, self._number_and_save(s, doc))

    def compose_invoices_in(self, s: Session, account: str, currency: str,
                            period: BillingPeriod, now: datetime) -> list[Document]:
        """Compose (unnumbered) the account's invoices for `period`, one per taxing country
        (the stations' countries, home first); empty if nothing to bill."""
        _, until = period.bounds(self.settings.time_zone)
        sessions = uninvoiced_sessions(s, account, currency, until,
                                       country=self.settings.issuer_country)  # fmt: skip
        home = self.settings.issuer_country
        by_country: dict[str, list[ChargedSession]] = {}
        for session in sessions:
            by_country.setdefault(session.country, []).append(session)
        issue = self._issue(s, account, now)
        docs = []
        for country in sorted(by_country, key=lambda c: (c != home, c)):
            doc = compose_invoice(issue, period, by_country[country], currency=currency,
                                  payment_days=self.settings.payment_days,
                                  **self._invoice_means(s, account))  # fmt: skip
            first = min(b.local_start.date() for b in doc.sessions)
            docs.append(doc if first >= doc.period_start else _from(doc, first))
        return docs

    def compose_invoice_in(self, s: Session, account: str, currency: str,
                           period: BillingPeriod, now: datetime) -> Document | None:
        """The first (home country's) of `compose_invoices_in`, None if nothing to bill."""
        docs = self.compose_invoices_in(s, account, currency, period, now)
        return docs[0] if docs else None

    def _invoice_means(self, s: Session, account: str) -> dict[str, Any]:
        """A postpaid invoice is collected by SEPA direct debit (59) while the account has an
        active mandate (BT-89 mandate, BT-90 creditor id, BT-91 debited IBAN); otherwise it is
        paid by credit transfer to the issuer's account (BR-61): SEPA (58) to an IBAN, else a
        local credit transfer (30) to the account number."""
        mandate = active_mandate(s, account)
        if mandate is not None:
            creditor = self.settings.sepa_creditor_id
            if creditor:
                try:
                    creditor = check_creditor_id(creditor)
                except Invalid as exc:
                    raise DocumentError(exc.detail) from None
            else:
                raise DocumentError(
                    f"sepa_creditor_id: account {account} pays by SEPA direct debit (mandate "
                    f"{mandate.reference}), which needs the issuer's SEPA creditor identifier "
                    "(EVBILL_INVOICE_SEPA_CREDITOR_ID)")
            return {"payment_means": "59", "payment_details": {
                "mandate": mandate.reference, "creditor_id": creditor,
                "debtor_iban": mandate.debtor_iban, "debtor_last4": mandate.debtor_iban[-4:]}}
        iban = self.settings.issuer_iban
        if not iban:
            raise DocumentError("issuer.iban: a postpaid invoice asks for a SEPA credit "
                                "transfer, which needs the issuer's IBAN "
                                "(EVBILL_INVOICE_ISSUER_IBAN)")
        return {"payment_means": "58" if is_iban(iban) else "30",
                "payment_details": {"iban": iban}}

    def issue_invoices_in(self, s: Session, account: str, currency: str, period: BillingPeriod,
                          now: datetime) -> list[Document]:  # fmt: skip
        """Inside the caller's transaction: the account's invoices for `period` (one per taxing
        country), existing ones as issued, new ones numbered (not committed). Each invoice's
        VAT rounding adjustment (its VAT per rate less its sessions' booked VAT) is booked in
        the same transaction, once (a repeat books what an older invoice still lacks)."""
        issued = [load_document(s, row) for row in _invoices_of(s, account, period, currency)]
        if not issued:  # a repeated call returns what the first issued
            docs = self.compose_invoices_in(s, account, currency, period, now)
            issued = [self._number_and_save(s, d) for d in docs]
        for doc in issued:
            book_vat_rounding(s, doc, at=now)
        return issued

    def issue_invoice_in(self, s: Session, account: str, currency: str, period: BillingPeriod,
                         now: datetime) -> Document | None:  # fmt: skip
        """Inside the caller's transaction: the existing invoice, or a new one (not committed);
        with sessions in several countries, all are issued and the first is returned."""
        docs = self.issue_invoices_in(s, account, currency, period, now)
        return docs[0] if docs else None

    def issue_invoice(self, account: str, currency: str, period: BillingPeriod, *,
                      now: datetime) -> Document | None:  # fmt: skip
        with self.db.sessions() as s:
            doc = self.issue_invoice_in(s, account, currency, period, now)
            return None if doc is None else self._commit_or_existing(s, doc)

    def issue_credit_note(self, refund_id: str, *, now: datetime) -> Document:
        """The credit note of a refund, correcting the receipt or invoice of its session."""
        with self.db.sessions() as s:
            existing = document_by_key(s, f"credit:{refund_id}")
            if existing is not None:
                return load_document(s, existing)
            refund = s.get(PaymentRefundRow, refund_id)
            if refund is None:
                raise DocumentNotFound(f"refund_id: no refund {refund_id!r}")
            charge = s.get(PaymentChargeRow, refund.charge_id)
            assert charge is not None  # foreign key
            original_row = _document_of_session(s, charge.reference)
            original = load_document(s, original_row)
            means, note, details = credit_means(s, charge)
            doc = compose_credit_note(self._issue(s, charge.account, now), original,
                                      refund_key=refund_id, reason=refund.reason,
                                      amount=refund.amount, session=charge.reference,
                                      payment_means=means, payment_note=note,
                                      payment_details=details)  # fmt: skip
            return self._commit_or_existing(s, self._number_and_save(s, doc, original_row.id))

    # --- reading and rendering -------------------------------------------------------------
    def find(self, number: str) -> Document:
        with self.db.read_sessions() as s:
            return load_document(s, _by_number(s, number))

    def pdf(self, number: str) -> bytes:
        """The document's PDF/A-3 (Factur-X): the stored one, else rendered now and stored.
        A receipt whose ledger day is still open is rendered with its anchor and not stored:
        the stored copy waits for the closed day's inclusion proof."""
        with self.db.read_sessions() as s:
            row = _by_number(s, number)
            if row.pdf is not None:
                return row.pdf
            doc = load_document(s, row)
        doc = self.with_final_proof(doc)
        data = render_pdf(doc, xml=to_cii(doc))
        if not is_pending(doc.proof):
            self.store_pdf(doc.number, data)
        return data

    def with_final_proof(self, doc: Document) -> Document:
        """The document with its ledger anchor replaced by the proof, once its day closed."""
        if not is_pending(doc.proof) or not doc.sessions:
            return doc
        assert doc.proof is not None
        proof = self._proofs(doc.sessions[0].reference, doc.proof.get("transaction_id"))
        return doc if proof is None else replace(doc, proof=proof)

    def store_pdf(self, number: str, data: bytes) -> None:
        """Attach the rendered PDF (the only column ever written after issue, once)."""
        with self.db.sessions() as s:
            s.execute(update(DocumentRow).where(
                DocumentRow.number == number, DocumentRow.operator_id == self.settings.operator_id,
                DocumentRow.pdf.is_(None)).values(pdf=data))
            s.commit()


def _from(doc: Document, first: date) -> Document:
    return replace(doc, period_start=first)


def _invoices_of(s: Session, account: str, period: BillingPeriod,
                 currency: str) -> list[DocumentRow]:  # fmt: skip
    base = f"invoice:{account}:{period}:{currency}"
    return list(s.execute(select(DocumentRow).where(
        (DocumentRow.source_key == base) | DocumentRow.source_key.like(f"{base}:%"))
        .order_by(DocumentRow.id)).scalars())  # fmt: skip


def _charge(s: Session, reference: str) -> PaymentChargeRow:
    charge = s.execute(select(PaymentChargeRow).where(PaymentChargeRow.reference == reference)
                       ).scalar_one_or_none()  # fmt: skip
    if charge is None:
        raise DocumentNotFound(f"reference: no payment for session {reference!r}")
    return charge


def _by_number(s: Session, number: str) -> DocumentRow:
    rows = s.execute(select(DocumentRow).where(DocumentRow.number == number)).scalars().all()
    if not rows:
        raise DocumentNotFound(f"number: no document {number!r}")
    if len(rows) > 1:
        raise DocumentError(f"number: {number!r} exists for several operators")
    return rows[0]


def _document_of_session(s: Session, reference: str) -> DocumentRow:
    """The receipt or invoice a session was billed on."""
    query = (select(DocumentRow).join(DocumentSessionRow,
                                      DocumentSessionRow.document_id == DocumentRow.id)
             .where(DocumentSessionRow.reference == reference,
                    DocumentRow.doc_type.in_(("RECEIPT", "INVOICE"))))
    row = s.execute(query).scalars().first()
    if row is None:
        raise DocumentNotFound(f"reference: session {reference!r} is on no receipt or invoice")
    return row

