"""Receipts, invoices and credit notes of a driver's account, from the invoicing service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from evbill.api.context import ApiContext
from evbill.api.problems import NotFound
from evbill.invoicing.cii import to_cii
from evbill.invoicing.model import Document
from evbill.invoicing.tables import DocumentRow
from evbill.invoicing.ubl import to_ubl
from evbill.money import Money

__all__ = ["DocumentItem", "account_documents", "document_file"]


@dataclass(frozen=True, slots=True)
class DocumentItem:
    number: str
    doc_type: str
    issued_at: datetime
    total: Money
    paid: bool


def account_documents(ctx: ApiContext, account: str, limit: int = 100) -> list[DocumentItem]:
    with ctx.db.read_sessions() as s:
        rows = s.execute(
            select(DocumentRow.number, DocumentRow.doc_type, DocumentRow.issued_at,
                   DocumentRow.total_gross, DocumentRow.currency, DocumentRow.paid)
            .where(DocumentRow.account_id == account)
            .order_by(DocumentRow.issued_at.desc(), DocumentRow.id.desc()).limit(limit)
        ).tuples().all()  # fmt: skip
    return [DocumentItem(n, t, at, Money(g, c), bool(p)) for n, t, at, g, c, p in rows]


def _own(ctx: ApiContext, account: str, number: str) -> Document:
    with ctx.db.read_sessions() as s:
        owner = s.scalars(select(DocumentRow.account_id).where(
            DocumentRow.number == number, DocumentRow.operator_id ==
            ctx.invoicing.settings.operator_id)).first()  # fmt: skip
    if owner is None or owner != account:
        raise NotFound(f"number: no document {number!r}")
    return ctx.invoicing.find(number)


def document_file(ctx: ApiContext, account: str, number: str, kind: str) -> tuple[bytes, str]:
    """The document as `pdf` (PDF/A-3 with Factur-X), `cii` or `ubl` XML: bytes, media type."""
    doc = _own(ctx, account, number)
    if kind == "pdf":
        return ctx.invoicing.pdf(number), "application/pdf"
    if kind == "ubl":
        return to_ubl(doc), "application/xml"
    return to_cii(doc), "application/xml"
