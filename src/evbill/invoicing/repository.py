"""Store access for documents: the gapless series counter, writing and reading documents.

`next_number` locks the series row FOR UPDATE (PostgreSQL), so the number is taken inside the
issuing transaction: a rollback hands it back, a commit makes it final, and two workers can
never draw the same one. On SQLite the writer's BEGIN IMMEDIATE already serialises them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from evbill.invoicing.chain_store import append_link
from evbill.invoicing.model import (
    ComponentKind,
    Document,
    DocumentLine,
    DocumentType,
    Party,
    SessionBlock,
    Totals,
    VatSubtotal,
)
from evbill.invoicing.numbering import SeriesKey
from evbill.invoicing.tables import (
    DocumentLineRow,
    DocumentRow,
    DocumentSessionRow,
    DocumentVatRow,
    SeriesRow,
)

__all__ = ["document_by_key", "load_document", "next_number", "save_document"]


def _ensure_series(s: Session, key: SeriesKey) -> None:
    values = {"name": key.name, "operator_id": key.operator_id, "doc_type": key.doc_type.value,
              "year": key.year, "last_seq": 0}  # fmt: skip
    dialect = s.get_bind().dialect.name
    if dialect == "postgresql":
        s.execute(postgresql.insert(SeriesRow).values(values).on_conflict_do_nothing())
    elif dialect == "sqlite":
        s.execute(sqlite.insert(SeriesRow).values(values).on_conflict_do_nothing())
    else:  # pragma: no cover - only the two supported backends
        s.execute(insert(SeriesRow).values(values))


def next_number(s: Session, key: SeriesKey) -> tuple[str, int]:
    """Take the series' next number; the row stays locked until the transaction ends."""
    query = select(SeriesRow).where(SeriesRow.name == key.name).with_for_update()
    row = s.execute(query).scalar_one_or_none()
    if row is None:
        _ensure_series(s, key)
        row = s.execute(query).scalar_one()
    row.last_seq += 1
    s.flush()
    return key.format(row.last_seq), row.last_seq


def document_by_key(s: Session, source_key: str) -> DocumentRow | None:
    return s.execute(
        select(DocumentRow).where(DocumentRow.source_key == source_key)
    ).scalar_one_or_none()


def save_document(
    s: Session, doc: Document, *, series: str, seq: int, corrects_id: int | None = None,
    pdf: bytes | None = None,
) -> DocumentRow:
    """Insert a numbered document with its sessions, lines and VAT subtotals."""
    row = DocumentRow(
        number=doc.number, series=series, seq=seq, doc_type=doc.doc_type.value,
        source_key=doc.source_key, operator_id=doc.operator_id, account_id=doc.account_id,
        currency=doc.currency, issued_at=doc.issued_at, issue_date=doc.issue_date,
        period_start=doc.period_start, period_end=doc.period_end, due_date=doc.due_date,
        issuer=doc.issuer.to_json(), customer=doc.customer.to_json(),
        total_net=doc.totals.net, total_vat=doc.totals.vat, total_gross=doc.totals.gross,
        paid=doc.paid, payment_means=doc.payment_means, payment_note=doc.payment_note,
        language=doc.language, corrects_id=corrects_id, corrects_number=doc.corrects_number,
        corrects_issue_date=doc.corrects_issue_date, reason=doc.reason, proof=doc.proof,
        pdf=pdf, details={"payment": doc.payment_details, "supply_country": doc.supply_country},
    )  # fmt: skip
    s.add(row)
    s.flush()
    sessions, lines = _children(row.id, doc.sessions)
    if sessions:
        s.execute(insert(DocumentSessionRow), sessions)
    if lines:
        s.execute(insert(DocumentLineRow), lines)
    vat = [{"document_id": row.id, "rate": v.rate, "taxable": v.taxable, "vat": v.vat,
            "category": v.category, "exemption_code": v.exemption_code,
            "exemption_reason": v.exemption_reason} for v in doc.totals.by_rate]  # fmt: skip
    if vat:
        s.execute(insert(DocumentVatRow), vat)
    append_link(s, row, sessions, lines, vat)  # tamper evidence: chained in this transaction
    return row


def _children(
    document_id: int, blocks: Sequence[SessionBlock]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    sessions: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    for position, b in enumerate(blocks):
        sessions.append({
            "document_id": document_id, "position": position, "reference": b.reference,
            "cdr_id": b.cdr_id, "station_id": b.station_id, "evse_id": b.evse_id,
            "address": b.address, "time_zone": b.time_zone, "started_at": b.start,
            "ended_at": b.end, "charging_hours": b.charging_hours,
            "parking_hours": b.parking_hours, "energy_kwh": b.energy_kwh,
            "signed_meter": b.signed_meter,
        })  # fmt: skip
        lines.extend({
            "document_id": document_id, "session_position": position, "position": n,
            "kind": line.kind.value, "description": line.description,
            "quantity": line.quantity, "unit": line.unit, "unit_price": line.unit_price,
            "vat_rate": line.vat_rate, "net": line.net, "vat": line.vat, "gross": line.gross,
            "vat_category": line.vat_category,
        } for n, line in enumerate(b.lines))  # fmt: skip
    return sessions, lines


def _lines(s: Session, document_id: int) -> dict[int, list[DocumentLine]]:
    query = (select(DocumentLineRow).where(DocumentLineRow.document_id == document_id)
             .order_by(DocumentLineRow.session_position, DocumentLineRow.position))
    by_session: dict[int, list[DocumentLine]] = {}
    for line in s.execute(query).scalars():
        by_session.setdefault(line.session_position, []).append(DocumentLine(
            kind=ComponentKind(line.kind), description=line.description,
            quantity=line.quantity, unit=line.unit, unit_price=line.unit_price,
            vat_rate=line.vat_rate, net=line.net, vat=line.vat, gross=line.gross,
            vat_category=line.vat_category,
        ))  # fmt: skip
    return by_session


def _block(b: DocumentSessionRow, lines: list[DocumentLine]) -> SessionBlock:
    return SessionBlock(
        reference=b.reference, cdr_id=b.cdr_id, station_id=b.station_id, evse_id=b.evse_id,
        address=b.address, time_zone=b.time_zone, start=b.started_at, end=b.ended_at,
        charging_hours=b.charging_hours, parking_hours=b.parking_hours,
        energy_kwh=b.energy_kwh, signed_meter=b.signed_meter, lines=tuple(lines),
    )  # fmt: skip


def load_document(s: Session, row: DocumentRow) -> Document:
    """Rebuild the issued `Document` value from its rows."""
    lines = _lines(s, row.id)
    sessions = (select(DocumentSessionRow).where(DocumentSessionRow.document_id == row.id)
                .order_by(DocumentSessionRow.position))
    blocks = tuple(_block(b, lines.get(b.position, [])) for b in s.execute(sessions).scalars())
    vat_query = select(DocumentVatRow).where(DocumentVatRow.document_id == row.id)
    vat = tuple(sorted((VatSubtotal(rate=v.rate, taxable=v.taxable, vat=v.vat,
                                    category=v.category, exemption_code=v.exemption_code,
                                    exemption_reason=v.exemption_reason)
                        for v in s.execute(vat_query).scalars()),
                       key=lambda v: (-v.rate, v.category)))  # same order as `totals_of`
    return _document(row, blocks, vat)


def _document(row: DocumentRow, blocks: tuple[SessionBlock, ...],
              vat: tuple[VatSubtotal, ...]) -> Document:  # fmt: skip
    return Document(
        doc_type=DocumentType(row.doc_type), number=row.number, issued_at=row.issued_at,
        issue_date=row.issue_date, currency=row.currency, issuer=Party.from_json(row.issuer),
        customer=Party.from_json(row.customer), operator_id=row.operator_id,
        account_id=row.account_id, period_start=row.period_start, period_end=row.period_end,
        sessions=blocks,
        totals=Totals(net=row.total_net, vat=row.total_vat, gross=row.total_gross, by_rate=vat),
        language=row.language, due_date=row.due_date, paid=row.paid,
        payment_note=row.payment_note, payment_means=row.payment_means,
        corrects_number=row.corrects_number, corrects_issue_date=row.corrects_issue_date,
        reason=row.reason, proof=row.proof, source_key=row.source_key,
        payment_details=dict((row.details or {}).get("payment") or {}),
        supply_country=str((row.details or {}).get("supply_country") or ""),
    )  # fmt: skip
