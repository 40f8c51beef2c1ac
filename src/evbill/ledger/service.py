"""Ledger service: post, reverse, close a day, prove and verify, each as one unit of work.

Posting takes the chain-head lock first, then checks the idempotency key and the day, so two
writers can neither fork the chain nor post one key twice. The caller passes every timestamp.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime
from typing import Final

from evbill.ledger.balances import TrialBalance, trial_balance
from evbill.ledger.errors import ConcurrentAppend, DayClosed, InvalidProof, UnknownTransaction
from evbill.ledger.hashing import chain_transaction, restore_transaction
from evbill.ledger.journal import Transaction, reverse
from evbill.ledger.merkle import DailyRoot, InclusionProof, close_day, inclusion_proof
from evbill.ledger.repository import LedgerRepository, UnitOfWorkFactory
from evbill.ledger.verify import Verifier, VerifyReport

__all__ = ["LedgerService", "append_transaction"]

log = logging.getLogger(__name__)

_APPEND_ATTEMPTS: Final = 3


class LedgerService:
    """The only way the rest of evbill writes to or reads from the ledger."""

    def __init__(self, unit_of_work: UnitOfWorkFactory) -> None:
        self._uow = unit_of_work

    def post(self, txn: Transaction) -> Transaction:
        """Append `txn`; a repeated idempotency key returns the first transaction unchanged."""
        for attempt in range(1, _APPEND_ATTEMPTS + 1):
            try:
                return self._post_once(txn)
            except ConcurrentAppend:
                log.warning("ledger.append_retry key=%s attempt=%d", txn.idempotency_key, attempt)
                if attempt == _APPEND_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _post_once(self, txn: Transaction) -> Transaction:
        with self._uow() as uow:
            posted, fresh = append_transaction(uow.repo, txn)
            if fresh:
                uow.commit()
        return posted

    def transaction(self, transaction_id: str) -> Transaction | None:
        with self._uow() as uow:
            entries = uow.repo.entries_of_transaction(transaction_id)
        return restore_transaction(entries) if entries else None

    def reverse(
        self, transaction_id: str, *, occurred_at: datetime, idempotency_key: str | None = None
    ) -> Transaction:
        """Post the reversal of a stored transaction (idempotent like any posting)."""
        original = self.transaction(transaction_id)
        if original is None:
            raise UnknownTransaction(f"transaction_id: {transaction_id} is not in the ledger")
        return self.post(
            reverse(original, occurred_at=occurred_at, idempotency_key=idempotency_key)
        )

    def close_day(self, day: date) -> DailyRoot:
        """Compute and store the day's Merkle root; closing a closed day returns its root."""
        key = day.isoformat()
        with self._uow() as uow:
            uow.repo.lock_head()
            existing = uow.repo.root(key)
            if existing is not None:
                return existing
            root = close_day(key, uow.repo.day_hashes(key))
            uow.repo.add_root(root)
            uow.commit()
        log.info("ledger.day_closed day=%s entries=%d root=%s", key, root.entry_count, root.root)
        return root

    def proofs(self, transaction_id: str) -> list[InclusionProof]:
        """Inclusion proofs of a transaction's entries under its day's published root."""
        with self._uow(snapshot=True) as uow:
            entries = uow.repo.entries_of_transaction(transaction_id)
            if not entries:
                raise UnknownTransaction(f"transaction_id: {transaction_id} is not in the ledger")
            day = entries[0].day
            if uow.repo.root(day) is None:
                raise InvalidProof(f"day {day}: not closed yet, so there is no root to prove")
            hashes = uow.repo.day_hashes(day)
        position = {digest: index for index, digest in enumerate(hashes)}
        return [inclusion_proof(day, hashes, position[e.hash]) for e in entries]

    def roots(self) -> list[DailyRoot]:
        with self._uow(snapshot=True) as uow:
            return list(uow.repo.roots())

    def verify(
        self, progress: Callable[[int], None] | None = None, *, batch_size: int = 10_000
    ) -> VerifyReport:
        """Recompute chain, balances and roots over every stored entry (streamed)."""
        with self._uow(snapshot=True) as uow:
            repo = uow.repo
            verifier = Verifier({root.day: root for root in repo.roots()})
            seen = 0
            for entry in repo.stream_entries(batch_size):
                if not verifier.feed(entry):
                    break
                seen += 1
                if progress is not None and seen % batch_size == 0:
                    progress(batch_size)
            if progress is not None:
                progress(seen % batch_size)
            report = verifier.finish(repo.head(), repo.transaction_count())
        if report.problem is not None:
            log.warning("ledger.verify_failed problem=%s", report.problem)
        return report

    def entry_count(self) -> int:
        with self._uow(snapshot=True) as uow:
            return uow.repo.entry_count()

    def trial_balance(self) -> TrialBalance:
        with self._uow(snapshot=True) as uow:
            return trial_balance(uow.repo.amounts())


def append_transaction(repo: LedgerRepository, txn: Transaction) -> tuple[Transaction, bool]:
    """Chain `txn` onto the locked head (not committed); (the stored transaction, appended
    now). A repeated idempotency key returns the first transaction unchanged."""
    head = repo.lock_head()
    existing = repo.entries_of_key(txn.idempotency_key)
    if existing:
        log.info("ledger.replayed key=%s transaction_id=%s",
                 txn.idempotency_key, existing[0].transaction_id)
        return restore_transaction(existing), False
    day = txn.day.isoformat()
    if repo.root(day) is not None:
        raise DayClosed(
            f"occurred_at: {txn.occurred_at.isoformat()} falls on {day}, whose root is "
            "already published; post a correction dated on an open day"
        )
    entries = chain_transaction(txn, head)
    repo.append(entries, head)
    log.info("ledger.posted key=%s transaction_id=%s kind=%s entries=%d first_seq=%d",
             txn.idempotency_key, txn.id, txn.kind.value, len(entries), entries[0].seq)
    return txn, True

