"""The documents' chain in the store: a link per issued document (written in the issuing
transaction, under the series lock), daily roots, and reading everything back to verify.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from evbill.invoicing.chain import (
    GENESIS_HASH,
    ChainedDocument,
    DocumentReport,
    DocumentRoot,
    Link,
    content_digest,
    day_of,
    link_hash,
    verify_documents,
)
from evbill.invoicing.chain_tables import ChainStartRow, DocumentLinkRow, DocumentRootRow
from evbill.invoicing.tables import (
    DocumentLineRow,
    DocumentRow,
    DocumentSessionRow,
    DocumentVatRow,
    SeriesRow,
)
from evbill.ledger.merkle import close_day
from evbill.store.database import Database

__all__ = [
    "append_link",
    "close_documents_day",
    "document_problems",
    "document_roots",
    "verify_stored_documents",
]

_BATCH = 2000


def append_link(
    s: Session, row: DocumentRow, sessions: Sequence[Mapping[str, Any]],
    lines: Sequence[Mapping[str, Any]], vat: Sequence[Mapping[str, Any]],
) -> Link:  # fmt: skip
    """Chain a just-inserted document after its series' last link (the series row is locked)."""
    values = {c.key: getattr(row, c.key) for c in DocumentRow.__table__.columns}
    content = content_digest(values, sessions, lines, vat)
    last = s.execute(select(DocumentLinkRow.number, DocumentLinkRow.hash)
                     .where(DocumentLinkRow.series == row.series)
                     .order_by(DocumentLinkRow.seq.desc()).limit(1)).first()  # fmt: skip
    prev_number, prev_hash = (last[0], last[1]) if last is not None else ("", GENESIS_HASH)
    day = day_of(row.issued_at)
    digest = link_hash(row.series, row.seq, row.number, day, prev_number, prev_hash, content)
    link = Link(row.id, row.series, row.seq, row.number, day, prev_number, prev_hash, digest)
    s.add(DocumentLinkRow(document_id=row.id, series=row.series, seq=row.seq, number=row.number,
                          day=day, prev_number=prev_number, prev_hash=prev_hash, hash=digest))
    return link


def _day_hashes(s: Session, day: str) -> list[str]:
    return list(s.scalars(select(DocumentLinkRow.hash).where(DocumentLinkRow.day == day)
                          .order_by(DocumentLinkRow.document_id)))  # fmt: skip


def close_documents_day(db: Database, day: date) -> DocumentRoot:
    """Store the day's Merkle root over its documents' hashes (once; later calls return it)."""
    key = day.isoformat()
    with db.sessions() as s:
        row = s.get(DocumentRootRow, key)
        if row is None:
            root = close_day(key, _day_hashes(s, key))
            row = DocumentRootRow(day=key, document_count=root.entry_count, root=root.root)
            s.add(row)
            s.commit()
        return DocumentRoot(row.day, row.document_count, row.root)


def document_roots(s: Session) -> list[DocumentRoot]:
    return [DocumentRoot(r.day, r.document_count, r.root)
            for r in s.scalars(select(DocumentRootRow).order_by(DocumentRootRow.day))]


def _link(r: DocumentLinkRow) -> Link:
    return Link(r.document_id, r.series, r.seq, r.number, r.day, r.prev_number, r.prev_hash,
                r.hash)  # fmt: skip


def _children(s: Session, table: Any, ids: list[int]) -> dict[int, list[Mapping[str, Any]]]:
    by_doc: dict[int, list[Mapping[str, Any]]] = {i: [] for i in ids}
    for r in s.execute(select(table).where(table.c.document_id.in_(ids))).mappings():
        by_doc[r["document_id"]].append(dict(r))
    return by_doc


def _documents(s: Session, ids: list[int] | None = None) -> Iterator[ChainedDocument]:
    """Every document (or those of `ids`) in (series, seq) order with its recomputed content,
    in batches."""
    table = DocumentRow.__table__
    columns = [c for c in table.columns if c.key != "pdf"]
    if ids is None:
        ids = list(s.scalars(select(DocumentRow.id).order_by(DocumentRow.series,
                                                             DocumentRow.seq)))
    for start in range(0, len(ids), _BATCH):
        batch = ids[start:start + _BATCH]
        rows = {r["id"]: dict(r) for r in s.execute(select(*columns).where(table.c.id.in_(batch)))
                .mappings()}  # fmt: skip
        sessions = _children(s, DocumentSessionRow.__table__, batch)
        lines = _children(s, DocumentLineRow.__table__, batch)
        vat = _children(s, DocumentVatRow.__table__, batch)
        links = {r.document_id: _link(r) for r in s.scalars(
            select(DocumentLinkRow).where(DocumentLinkRow.document_id.in_(batch)))}
        for doc_id in batch:
            r = rows[doc_id]
            yield ChainedDocument(
                document_id=doc_id, number=r["number"], series=r["series"], seq=r["seq"],
                day=day_of(r["issued_at"]),
                content=content_digest(r, sessions[doc_id], lines[doc_id], vat[doc_id]),
                link=links.get(doc_id),
            )  # fmt: skip


def verify_stored_documents(db: Database) -> DocumentReport:
    """Verify every issued document, its chain link, its series head and the daily roots."""
    with db.read_sessions() as s:
        orphans = [_link(r) for r in s.scalars(
            select(DocumentLinkRow).where(DocumentLinkRow.document_id.not_in(
                select(DocumentRow.id))).order_by(DocumentLinkRow.series, DocumentLinkRow.seq))]
        heads = {name: last for name, last in s.execute(
            select(SeriesRow.name, SeriesRow.last_seq))}
        roots = document_roots(s)
        start = s.get(ChainStartRow, 1)
        return verify_documents(
            _documents(s), orphan_links=orphans, series_heads=heads, roots=roots,
            first_chained_id=start.first_document_id if start is not None else 0,
        )  # fmt: skip


def document_problems(db: Database, number: str) -> list[str]:
    """What is wrong with one document and its link to the one before it (`invoice show`)."""
    with db.read_sessions() as s:
        ids = list(s.scalars(select(DocumentRow.id).where(DocumentRow.number == number)))
        found = list(_documents(s, ids))
        problems: list[str] = []
        for doc in found:
            link = doc.link
            if link is None:
                start = s.get(ChainStartRow, 1)
                if start is None or doc.document_id >= start.first_document_id:
                    problems.append(f"document {number}: has no chain link")
                continue
            prev = s.execute(select(DocumentLinkRow.number, DocumentLinkRow.hash)
                             .where(DocumentLinkRow.series == doc.series,
                                    DocumentLinkRow.seq < doc.seq)
                             .order_by(DocumentLinkRow.seq.desc()).limit(1)).first()
            expected = link_hash(doc.series, doc.seq, doc.number, doc.day, link.prev_number,
                                 link.prev_hash, doc.content)  # fmt: skip
            if expected != link.hash or (link.series, link.seq, link.number) != (
                    doc.series, doc.seq, doc.number):
                problems.append(f"document {number}: its content was changed after issue "
                                "(the hash does not match)")
            if (link.prev_number, link.prev_hash) != ((prev[0], prev[1]) if prev else
                                                      ("", GENESIS_HASH)):
                problems.append(f"document {number}: the chain breaks before it")
        return problems

