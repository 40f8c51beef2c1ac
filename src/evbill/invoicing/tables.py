"""Invoicing tables on the shared `Base`: documents with their sessions, lines and VAT,
numbering series counters, billing customers and monthly billing runs.

Documents are written once and never updated (credit notes correct them); every amount is
`ExactDecimal` (NUMERIC on PostgreSQL). `source_key` makes issuing idempotent: one receipt per
session, one invoice per account + period + currency, one credit note per refund.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy import UniqueConstraint as Unique
from sqlalchemy.orm import Mapped, mapped_column

from evbill.store.tables import Base

__all__ = [
    "BillingCustomerRow",
    "BillingRunItemRow",
    "BillingRunRow",
    "DocumentLineRow",
    "DocumentRow",
    "DocumentSessionRow",
    "DocumentVatRow",
    "SeriesRow",
]


class SeriesRow(Base):
    """One numbering series' counter; issuing locks it FOR UPDATE until commit (no gaps)."""

    __tablename__ = "invoice_series"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)  # operator/TYPE/year
    operator_id: Mapped[str] = mapped_column(String(80))
    doc_type: Mapped[str] = mapped_column(String(16))
    year: Mapped[int] = mapped_column(Integer)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)


class DocumentRow(Base):
    __tablename__ = "invoice_documents"
    __table_args__ = (
        Unique("operator_id", "number"),
        Index("ix_invoice_documents_account", "account_id", "currency", "doc_type"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(64), index=True)
    series: Mapped[str] = mapped_column(ForeignKey("invoice_series.name"))
    seq: Mapped[int] = mapped_column(Integer)
    doc_type: Mapped[str] = mapped_column(String(16))
    source_key: Mapped[str] = mapped_column(String(255), unique=True)
    operator_id: Mapped[str] = mapped_column(String(80))
    account_id: Mapped[str] = mapped_column(String(128))
    currency: Mapped[str] = mapped_column(String(3))
    issued_at: Mapped[datetime]
    issue_date: Mapped[date] = mapped_column(Date)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date)
    issuer: Mapped[dict[str, Any]] = mapped_column(JSON)
    customer: Mapped[dict[str, Any]] = mapped_column(JSON)
    total_net: Mapped[Decimal]
    total_vat: Mapped[Decimal]
    total_gross: Mapped[Decimal]
    paid: Mapped[bool] = mapped_column(Boolean)
    payment_means: Mapped[str] = mapped_column(String(8))
    payment_note: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("invoice_documents.id"))
    corrects_number: Mapped[str | None] = mapped_column(String(64))
    corrects_issue_date: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    proof: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    pdf: Mapped[bytes | None]
    #: payment details (card brand/last4, mandate, refund destination) and place of supply
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class DocumentSessionRow(Base):
    __tablename__ = "invoice_sessions"
    __table_args__ = (Unique("document_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("invoice_documents.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    reference: Mapped[str] = mapped_column(String(200), index=True)
    cdr_id: Mapped[str | None] = mapped_column(String(64))
    station_id: Mapped[str] = mapped_column(String(64))
    evse_id: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(Text)
    time_zone: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime]
    charging_hours: Mapped[Decimal]
    parking_hours: Mapped[Decimal]
    energy_kwh: Mapped[Decimal]
    signed_meter: Mapped[bool] = mapped_column(Boolean)


class DocumentLineRow(Base):
    __tablename__ = "invoice_lines"
    __table_args__ = (Unique("document_id", "session_position", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("invoice_documents.id"), index=True)
    session_position: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(24))
    description: Mapped[str] = mapped_column(Text)
    quantity: Mapped[Decimal]
    unit: Mapped[str] = mapped_column(String(16))
    unit_price: Mapped[Decimal]
    vat_rate: Mapped[Decimal]
    net: Mapped[Decimal]
    vat: Mapped[Decimal]
    gross: Mapped[Decimal]
    vat_category: Mapped[str] = mapped_column(String(2), server_default="S")


class DocumentVatRow(Base):
    __tablename__ = "invoice_vat"
    __table_args__ = (Unique("document_id", "rate"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("invoice_documents.id"))
    rate: Mapped[Decimal]
    taxable: Mapped[Decimal]
    vat: Mapped[Decimal]
    category: Mapped[str] = mapped_column(String(2), server_default="S")
    exemption_code: Mapped[str | None] = mapped_column(String(32))
    exemption_reason: Mapped[str | None] = mapped_column(Text)


class BillingCustomerRow(Base):
    """Invoice address and VAT id of a customer account (postpaid fleets, named drivers)."""

    __tablename__ = "billing_customers"

    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    street: Mapped[str] = mapped_column(String(200), default="")
    postcode: Mapped[str] = mapped_column(String(32), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    country: Mapped[str] = mapped_column(String(2))
    vat_id: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(8), default="en")
    updated_at: Mapped[datetime]


class BillingRunRow(Base):
    """A monthly run: its items are created once, then claimed by any number of workers."""

    __tablename__ = "billing_runs"

    period: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM
    created_at: Mapped[datetime]
    items: Mapped[int] = mapped_column(Integer)
    finished_at: Mapped[datetime | None]


class BillingRunItemRow(Base):
    __tablename__ = "billing_run_items"
    __table_args__ = (
        Unique("period", "account_id", "currency"),
        Index("ix_billing_run_items_claim", "period", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(ForeignKey("billing_runs.period"))
    account_id: Mapped[str] = mapped_column(String(128))
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|done|failed
    document_number: Mapped[str | None] = mapped_column(String(64))
    worker: Mapped[str | None] = mapped_column(String(128))
    error: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime | None]
