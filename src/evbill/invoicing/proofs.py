"""The ledger proof a receipt carries: the inclusion proof of its payment transaction when the
day's Merkle root is closed, else an anchor (transaction id, UTC day, chain position, entry hash,
`"status": "pending"`). A receipt is issued at payment time with the anchor; its PDF is stored
only once the day has closed, with the full proof in the QR code (see docs/invoicing.md).
"""

from __future__ import annotations

from typing import Any

from evbill.ledger.hashing import StoredEntry
from evbill.ledger.merkle import inclusion_proof
from evbill.ledger.store import SqlLedgerRepository
from evbill.store.database import Database

__all__ = ["LedgerProofs", "is_pending"]


def is_pending(proof: dict[str, Any] | None) -> bool:
    """True for an anchor whose day has no Merkle root yet."""
    return proof is not None and proof.get("status") == "pending"


class LedgerProofs:
    """The proof of a session's payment transaction, for its receipt (see the module doc)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def __call__(self, reference: str, transaction_id: str | None) -> dict[str, Any] | None:
        # A read session, not a ledger unit of work: the caller may hold the write lock.
        with self.db.read_sessions() as s:
            repo = SqlLedgerRepository(s)
            entries = (repo.entries_of_transaction(transaction_id) if transaction_id else
                       repo.entries_of_key(f"payments:wallet_spend:{reference}"))
            if not entries:
                return None
            first: StoredEntry = entries[0]
            anchor = {"version": 1, "transaction_id": first.transaction_id, "day": first.day,
                      "seq": first.seq, "entry_hash": first.hash}
            if repo.root(first.day) is None:
                return {**anchor, "status": "pending"}
            hashes = repo.day_hashes(first.day)
        proof = inclusion_proof(first.day, hashes, hashes.index(first.hash)).to_json()
        return {**proof, "transaction_id": first.transaction_id, "seq": first.seq}
