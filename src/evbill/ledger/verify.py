"""Verification of a stored journal: sequence, hash chain, content, balance and daily roots.

`Verifier` is fed entries in stored sequence order (streamed, O(days) memory) and reports the
first problem it meets, naming the entry's sequence number and what is wrong. It is pure: the
store streams rows in and hands over the chain head, the daily roots and the header count.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from evbill.ledger.accounts import validate_code
from evbill.ledger.errors import InvalidAccount
from evbill.ledger.hashing import GENESIS_HASH, ChainHead, StoredEntry, StreamHasher, parse_time
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


class _ContentChecks:
    """Why an entry whose hash matches is still malformed (only a buggy writer gets here).

    Accounts and currencies repeat a lot and a transaction's entries share one timestamp, so
    the full checks run only when one of them is new.
    """

    def __init__(self) -> None:
        self._accounts: set[str] = set()
        self._places: dict[str, int] = {}
        self._time = ""

    def problem(self, entry: StoredEntry, amount: Decimal | None) -> str | None:
        places = self._places.get(entry.currency)
        if (places is None or entry.account not in self._accounts
                or entry.occurred_at != self._time):
            try:
                validate_code(entry.account)
                places = minor_unit(entry.currency)
                parse_time(entry.occurred_at)
            except (InvalidAccount, UnknownCurrency, ValueError) as exc:
                return f"malformed content: {exc}"
            self._accounts.add(entry.account)
            self._places[entry.currency], self._time = places, entry.occurred_at
        text = entry.amount
        if amount is None:
            return f"malformed content: amount {text!r} is not a decimal number"
        dot = text.find(".")
        if amount.is_zero() or (dot >= 0 and len(text) - dot - 1 > places):
            return f"amount {text} is zero or finer than the {entry.currency} minor unit"
        return None


def _decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


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
        self._hash = StreamHasher()
        self._checks = _ContentChecks()

    @property
    def entries(self) -> int:
        return self._prev_seq

    @property
    def transactions(self) -> int:
        return len(self._seen_txns)

    def feed(self, entry: StoredEntry) -> bool:
        """Check one entry; False (and `problem` set) at the first problem.

        This runs once per stored entry, so the common case is kept flat; anything unusual
        goes to `_link_problem` / `_checks` for the reason.
        """
        if self.problem is not None:
            return False
        seq, digest = entry.seq, entry.hash
        if (seq != self._prev_seq + 1 or entry.prev_hash != self._prev_hash
                or self._hash(entry) != digest):
            return self._fail(LedgerProblem(self._link_problem(entry), seq))
        amount = _decimal(entry.amount)
        reason = self._checks.problem(entry, amount)
        if reason is not None or amount is None:
            return self._fail(LedgerProblem(reason or "malformed amount", seq))
        if entry.transaction_id != self._txn and not self._next_transaction(entry):
            return False
        sums, currency = self._txn_sums, entry.currency
        sums[currency] = sums[currency] + amount if currency in sums else amount
        if self._days:
            acc = self._days.get(entry.occurred_at[:10])
            if acc is not None:
                acc.add(bytes.fromhex(digest))
        self._prev_seq, self._prev_hash = seq, digest
        return True

    def _fail(self, problem: LedgerProblem) -> bool:
        self.problem = problem
        return False

    def _link_problem(self, entry: StoredEntry) -> str:
        if entry.seq != self._prev_seq + 1:
            return (f"expected sequence number {self._prev_seq + 1} after {self._prev_seq}: "
                    "an entry was removed, inserted or reordered")
        if entry.prev_hash != self._prev_hash:
            return (f"prev_hash {entry.prev_hash[:16]}… is not the hash of entry "
                    f"{entry.seq - 1} ({self._prev_hash[:16]}…): the chain is broken here")
        return ("stored hash does not match the entry's content: the entry (amount, account, "
                "currency, timestamp, transaction) or its hash was changed")

    def _next_transaction(self, entry: StoredEntry) -> bool:
        try:
            self._close_transaction()
        except _Broken as broken:
            return self._fail(broken.problem)
        if entry.transaction_id in self._seen_txns:
            return self._fail(LedgerProblem(
                f"transaction {entry.transaction_id} continues after another one began",
                entry.seq))
        self._seen_txns.add(entry.transaction_id)
        self._txn, self._txn_first, self._txn_sums = entry.transaction_id, entry.seq, {}
        return True

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
        if head.seq != self._prev_seq or head.hash != self._prev_hash:
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
