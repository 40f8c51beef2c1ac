"""Tamper evidence for issued documents: a canonical content hash, a hash chain per numbering
series and its verification (pure: the store hands rows in, `chain_store` does the I/O).

Encoding (version 1), documented in docs/invoicing.md. A document's content is every stored
field of its row (all columns but `id`, `corrects_id` and `pdf`), of each of its sessions (in
position order), of each line (session position, then position) and of each VAT subtotal
(rate order), children without `id` and `document_id`. Each field is `name=value` as a
netstring, a NULL field is left out (so a column added later keeps old hashes), sections are
introduced by the netstrings "document", "session", "line" and "vat". Values: text as is,
booleans `true`/`false`, decimals normalized (`canonical_amount`), timestamps as UTC
`canonical_time`, dates ISO, JSON as sorted compact JSON, bytes hex. The content digest is
SHA-256 of that; a link's hash is SHA-256 of the netstrings

    "evbill-document-v1", series, seq, number, day, prev_number, prev_hash, content digest

so each hash commits to the whole series before it, back to `GENESIS_HASH`. The document's
XML and PDF are rendered from exactly these fields, which is why the rendered bytes are not
hashed themselves: a renderer upgrade must not make every older document look tampered with.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Final

from evbill.ledger.hashing import GENESIS_HASH, canonical_amount, canonical_time
from evbill.ledger.merkle import close_day

__all__ = [
    "ENCODING_VERSION",
    "GENESIS_HASH",
    "ChainedDocument",
    "DocumentProblem",
    "DocumentReport",
    "DocumentRoot",
    "Link",
    "canonical_value",
    "content_digest",
    "day_of",
    "link_hash",
    "verify_documents",
]

ENCODING_VERSION: Final = "evbill-document-v1"
_DOCUMENT_SKIP: Final = frozenset({"id", "corrects_id", "pdf"})
_CHILD_SKIP: Final = frozenset({"id", "document_id"})


def canonical_value(value: object) -> str | None:
    """The canonical text of a stored value (None stays None: the field is left out)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return canonical_amount(value)
    if isinstance(value, datetime):
        return canonical_time(value if value.tzinfo else value.replace(tzinfo=UTC))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    raise TypeError(f"no canonical form for {type(value).__name__}")


def _netstring(text: str) -> bytes:
    raw = text.encode("utf-8")
    return b"%d:%s," % (len(raw), raw)


def _fields(values: Mapping[str, Any], skip: frozenset[str]) -> bytes:
    parts = []
    for name in sorted(values):
        if name in skip:
            continue
        text = canonical_value(values[name])
        if text is not None:
            parts.append(_netstring(f"{name}={text}"))
    return b"".join(parts)


def content_digest(
    document: Mapping[str, Any], sessions: Iterable[Mapping[str, Any]],
    lines: Iterable[Mapping[str, Any]], vat: Iterable[Mapping[str, Any]],
) -> str:  # fmt: skip
    """SHA-256 (hex) of a document's canonical content, from its stored column values."""
    h = hashlib.sha256(_netstring(ENCODING_VERSION) + _netstring("document"))
    h.update(_fields(document, _DOCUMENT_SKIP))
    for section, rows, key in (
        ("session", sessions, lambda r: r["position"]),
        ("line", lines, lambda r: (r["session_position"], r["position"])),
        ("vat", vat, lambda r: Decimal(r["rate"])),
    ):
        for row in sorted(rows, key=key):
            h.update(_netstring(section) + _fields(row, _CHILD_SKIP))
    return h.hexdigest()


def day_of(issued_at: datetime) -> str:
    """The UTC day a document belongs to, for its daily root."""
    return canonical_time(issued_at if issued_at.tzinfo else issued_at.replace(tzinfo=UTC))[:10]


def link_hash(series: str, seq: int, number: str, day: str, prev_number: str, prev_hash: str,
              content: str) -> str:  # fmt: skip
    fields = (ENCODING_VERSION, series, str(seq), number, day, prev_number, prev_hash, content)
    return hashlib.sha256(b"".join(_netstring(f) for f in fields)).hexdigest()


@dataclass(frozen=True, slots=True)
class Link:
    """A stored chain link."""

    document_id: int
    series: str
    seq: int
    number: str
    day: str
    prev_number: str
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class ChainedDocument:
    """A stored document as verify sees it: what its row says, its recomputed content digest
    and its link (None when it has none)."""

    document_id: int
    number: str
    series: str
    seq: int
    day: str
    content: str
    link: Link | None


@dataclass(frozen=True, slots=True)
class DocumentRoot:
    day: str
    document_count: int
    root: str


@dataclass(frozen=True, slots=True)
class DocumentProblem:
    """Something wrong, naming the document (or the series or day when no document is left)."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass(slots=True)
class DocumentReport:
    documents: int = 0
    series: int = 0
    days_checked: int = 0
    unchained: int = 0  # issued before the chain began (before migration 0011)
    problems: list[DocumentProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        older = f", {self.unchained} issued before the chain began" if self.unchained else ""
        return (f"documents intact: {self.documents} documents in {self.series} series, "
                f"{self.days_checked} daily roots{older}")


class _SeriesWalk:
    """Checks one series' documents in seq order against their links."""

    def __init__(self, series: str, report: DocumentReport, first_chained_id: int,
                 day_hashes: dict[str, list[tuple[int, str]]]) -> None:  # fmt: skip
        self.series, self.report, self.first = series, report, first_chained_id
        self.day_hashes = day_hashes
        self.last_seq = 0
        self.prev: Link | None = None

    def _problem(self, number: str, reason: str) -> None:
        self.report.problems.append(DocumentProblem(f"document {number}", reason))

    def feed(self, doc: ChainedDocument) -> None:
        if doc.seq != self.last_seq + 1:
            missing = (f"seq {self.last_seq + 1}" if doc.seq == self.last_seq + 2
                       else f"seq {self.last_seq + 1}..{doc.seq - 1}")
            if doc.seq <= self.last_seq:
                self._problem(doc.number, f"seq {doc.seq} repeats or goes back after "
                              f"seq {self.last_seq} in series {self.series}: reordered")
            else:
                self._problem(doc.number, f"series {self.series} has no document at {missing} "
                              "before it: deleted")
        self.last_seq = max(self.last_seq, doc.seq)
        link = doc.link
        if link is None:
            if doc.document_id < self.first:
                self.report.unchained += 1
            else:
                self._problem(doc.number, "has no chain link: written outside the issuing "
                              "path, or its link was deleted")
            return
        self._check_link(doc, link)
        self.prev = link

    def _check_link(self, doc: ChainedDocument, link: Link) -> None:
        if (link.series, link.seq, link.number) != (doc.series, doc.seq, doc.number):
            self._problem(doc.number, f"its chain link names {link.number} (series "
                          f"{link.series}, seq {link.seq}) but the document is seq {doc.seq}: "
                          "renumbered or reordered")
        expected = link_hash(doc.series, doc.seq, doc.number, doc.day, link.prev_number,
                             link.prev_hash, doc.content)  # fmt: skip
        self.day_hashes.setdefault(doc.day, []).append((doc.document_id, expected))
        if expected != link.hash:
            self._problem(doc.number, "its content (number, date, parties, totals, sessions, "
                          "lines or VAT) was changed after issue: the hash does not match")
        prev_number = self.prev.number if self.prev else ""
        prev_hash = self.prev.hash if self.prev else GENESIS_HASH
        if link.prev_number != prev_number:
            before = link.prev_number or "nothing (the start of the series)"
            self._problem(doc.number, f"the chain says the document before it is {before}, "
                          f"found {prev_number or 'none'}: {before} was deleted or moved")
        elif link.prev_hash != prev_hash:
            self._problem(doc.number, f"the chain breaks before it: {prev_number or 'genesis'} "
                          f"hashes to {prev_hash[:16]}…, the link records "
                          f"{link.prev_hash[:16]}…")

    def finish(self, head: int | None) -> None:
        if head is not None and head > self.last_seq:
            last = self.prev.number if self.prev else "none"
            self.report.problems.append(DocumentProblem(
                f"series {self.series}", f"numbered up to seq {head} but its last document is "
                f"seq {self.last_seq} ({last}): seq {self.last_seq + 1}..{head} deleted"))


def verify_documents(
    documents: Iterable[ChainedDocument], *, orphan_links: Sequence[Link],
    series_heads: Mapping[str, int], roots: Sequence[DocumentRoot], first_chained_id: int,
) -> DocumentReport:  # fmt: skip
    """Every problem of the stored documents, each naming its document.

    `documents` come ordered by (series, seq); `orphan_links` are links whose document row is
    gone. A closed day's root is recomputed from the hashes its documents have now (their
    content, as stored), in document id order: a change that kept the chain consistent, even
    a whole series rewritten, still changes the root.
    """
    report = DocumentReport()
    day_hashes: dict[str, list[tuple[int, str]]] = {}
    walk: _SeriesWalk | None = None
    seen: set[str] = set()
    for doc in documents:
        if walk is None or walk.series != doc.series:
            if walk is not None:
                walk.finish(series_heads.get(walk.series))
            walk = _SeriesWalk(doc.series, report, first_chained_id, day_hashes)
            seen.add(doc.series)
        walk.feed(doc)
        report.documents += 1
    if walk is not None:
        walk.finish(series_heads.get(walk.series))
    for series, head in sorted(series_heads.items()):
        if series not in seen and head > 0:
            empty = _SeriesWalk(series, report, first_chained_id, day_hashes)
            empty.finish(head)
    for link in orphan_links:
        report.problems.append(DocumentProblem(
            f"document {link.number}", f"was deleted (series {link.series}, seq {link.seq}, "
            f"issued {link.day}): its chain link remains"))
    report.series = len(seen)
    for root in roots:
        hashes = [digest for _, digest in sorted(day_hashes.get(root.day, []))]
        again = close_day(root.day, hashes[:root.document_count])
        if len(hashes) < root.document_count or again.root != root.root:
            report.problems.append(DocumentProblem(
                f"day {root.day}", f"its documents no longer give the published root "
                f"({root.document_count} documents, root {root.root[:16]}…): a document of "
                "that day was changed, deleted or added"))
        report.days_checked += 1
    return report
