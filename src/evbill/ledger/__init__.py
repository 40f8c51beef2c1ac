"""Double-entry ledger with a SHA-256 hash chain, daily Merkle roots and inclusion proofs."""

from evbill.ledger.errors import (
    ConcurrentAppend,
    DayClosed,
    InvalidAccount,
    InvalidEntry,
    InvalidProof,
    InvalidTransaction,
    LedgerError,
    UnbalancedTransaction,
    UnknownTransaction,
)
from evbill.ledger.journal import (
    Entry,
    Transaction,
    TransactionKind,
    build_transaction,
    reverse,
)
from evbill.ledger.repository import MemoryLedger
from evbill.ledger.service import LedgerService

__all__ = [
    "ConcurrentAppend",
    "DayClosed",
    "Entry",
    "InvalidAccount",
    "InvalidEntry",
    "InvalidProof",
    "InvalidTransaction",
    "LedgerError",
    "LedgerService",
    "MemoryLedger",
    "Transaction",
    "TransactionKind",
    "UnbalancedTransaction",
    "UnknownTransaction",
    "build_transaction",
    "reverse",
]
