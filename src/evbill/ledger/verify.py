"""Verification of a stored journal: sequence, hash chain, content, balance and daily roots.

`Verifier` is fed entries in stored sequence order (streamed, O(days) memory) and reports the
first problem it meets, naming the entry's sequence number and what is wrong. It is pure: the
store streams rows in and hands over the chain head, the daily roots and the header count.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from evbill.ledger.accounts import validate_code
from evbill.ledger.errors import InvalidAccount
from evbill.ledger.hashing import GENESIS_HASH, ChainHead, StoredEntry, hash_entry, parse_time
from evbill.ledger.merkle import DailyRoot, MerkleAccumulator
from evbill.money import UnknownCurrency, minor_unit

__all__ = ["LedgerProblem", "Verifier", "VerifyReport", "verify_entries"]


@dataclass(frozen=True, slots=True)
class LedgerProblem:
    """The first thing found wrong: the entry (or day) and the reason."""

    reason: str
    seq: int | None = None
    day: str | None = None

    def __str__(self) -> str:
        where = f"entry {self.seq}" if self.seq is not None else f"day {self.day}"
        return f"{where}: {self.reason}"


@dataclass(frozen=True, slots=True)
class VerifyReport:
    entries: int
    transactions: int
    days_checked: int
    problem: LedgerProblem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


class _Broken(Exception):
    def __init__(self, problem: LedgerProblem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def _content_problem(entry: StoredEntry) -> str | None:
    """Why an entry whose hash matches is still malformed (only a buggy writer gets here)."""
    try:
        validate_code(entry.account)
        places = minor_unit(entry.currency)
        amount = Decimal(entry.amount)
        parse_time(entry.occurred_at)
    except (InvalidAccount, UnknownCurrency, InvalidOperation, ValueError) as exc:
        return f"malformed content: {exc}"
    if amount.is_zero() or amount != amount.quantize(Decimal(1).scaleb(-places)):
        return f"amount {entry.amount} is zero or finer than the {entry.currency} minor unit"
    return None


class Verifier:
    """Streaming checker; call `feed` per entry in stored order, then `finish`."""

    def __init__(self, roots: Mapping[str, DailyRoot]) -> None:
        self._roots = roots
        self._days: dict[str, MerkleAccumulator] = {d: MerkleAccumulator() for d in roots}
        self._prev_seq, self._prev_hash = 0, GENESIS_HASH
        self._txn: str | None = None
        self._txn_first = 0
        self._txn_sums: dict[str, Decimal] = {}
        self._seen_txns: set[str] = set()
        self.problem: LedgerProblem | None = None

    @property
    def entries(self) -> int:
        return self._prev_seq

    @property
    def transactions(self) -> int:
        return len(self._seen_txns)

    def feed(self, entry: StoredEntry) -> bool:
        """Check one entry; False (and `problem` set) at the first problem."""
        if self.problem is not None:
            return False
        try:
            self._check_link(entry)
            self._track_transaction(entry)
        except _Broken as broken:
            self.problem = broken.problem
            return False
        acc = self._days.get(entry.day)
        if acc is not None:
            acc.add(bytes.fromhex(entry.hash))
        self._prev_seq, self._prev_hash = entry.seq, entry.hash
        return True

    def _check_link(self, entry: StoredEntry) -> None:
        seq = entry.seq
        if seq != self._prev_seq + 1:
            raise _Broken(LedgerProblem(
                f"expected sequence number {self._prev_seq + 1} after {self._prev_seq}: "
                "an entry was removed, inserted or reordered", seq))
        if not hmac.compare_digest(entry.prev_hash, self._prev_hash):
            raise _Broken(LedgerProblem(
                f"prev_hash {entry.prev_hash[:16]}… is not the hash of entry {seq - 1} "
                f"({self._prev_hash[:16]}…): the chain is broken here", seq))
        if not hmac.compare_digest(hash_entry(entry), entry.hash):
            raise _Broken(LedgerProblem(
                "stored hash does not match the entry's content: the entry (amount, account, "
                "currency, timestamp, transaction) or its hash was changed", seq))
        reason = _content_problem(entry)
        if reason is not None:
            raise _Broken(LedgerProblem(reason, seq))

    def _track_transaction(self, entry: StoredEntry) -> None:
        if entry.transaction_id != self._txn:
            self._close_transaction()
            if entry.transaction_id in self._seen_txns:
                raise _Broken(LedgerProblem(
                    f"transaction {entry.transaction_id} continues after another one began",
                    entry.seq))
            self._seen_txns.add(entry.transaction_id)
            self._txn, self._txn_first, self._txn_sums = entry.transaction_id, entry.seq, {}
        amount = Decimal(entry.amount)
        self._txn_sums[entry.currency] = self._txn_sums.get(entry.currency, Decimal(0)) + amount

    def _close_transaction(self) -> None:
        off = {cur: total for cur, total in self._txn_sums.items() if total != 0}
        if off:
            detail = ", ".join(f"{cur} {total:+f}" for cur, total in sorted(off.items()))
            raise _Broken(LedgerProblem(
                f"transaction {self._txn} (from entry {self._txn_first}) does not balance: "
                f"{detail}", self._txn_first))

    def finish(self, head: ChainHead, transaction_count: int) -> VerifyReport:
        """Final checks: last transaction, chain head, header count and every daily root."""
        if self.problem is None:
            try:
                self._close_transaction()
                self._check_head(head)
                self._check_count(transaction_count)
                self._check_roots()
            except _Broken as broken:
                self.problem = broken.problem
        return VerifyReport(self.entries, len(self._seen_txns), len(self._roots), self.problem)

    def _check_head(self, head: ChainHead) -> None:
        if head.seq != self._prev_seq or not hmac.compare_digest(head.hash, self._prev_hash):
            raise _Broken(LedgerProblem(
                f"the chain head records entry {head.seq} ({head.hash[:16]}…) but the journal "
                f"ends at entry {self._prev_seq} ({self._prev_hash[:16]}…): entries were "
                "removed or appended behind the ledger's back", max(head.seq, self._prev_seq)))

    def _check_count(self, transaction_count: int) -> None:
        if transaction_count != len(self._seen_txns):
            raise _Broken(LedgerProblem(
                f"{transaction_count} transactions are stored but entries name "
                f"{len(self._seen_txns)}", self._prev_seq))

    def _check_roots(self) -> None:
        for day in sorted(self._roots):
            stored, acc = self._roots[day], self._days[day]
            if acc.count != stored.entry_count or acc.root() != stored.root:
                raise _Broken(LedgerProblem(
                    f"recomputed root {acc.root()[:16]}… over {acc.count} entries differs from "
                    f"the stored root {stored.root[:16]}… over {stored.entry_count}",
                    day=day))


def verify_entries(
    entries: Iterable[StoredEntry],
    *,
    head: ChainHead,
    roots: Iterable[DailyRoot] = (),
    transaction_count: int | None = None,
) -> VerifyReport:
    """Verify a whole journal in one call (the in-memory path and tests)."""
    verifier = Verifier({root.day: root for root in roots})
    for entry in entries:
        if not verifier.feed(entry):
            break
    count = verifier.transactions if transaction_count is None else transaction_count
    return verifier.finish(head, count)
