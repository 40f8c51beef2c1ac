"""Ledger exceptions: each names the field and the reason, so the edges can translate them."""

from __future__ import annotations


class LedgerError(ValueError):
    """Base class for ledger errors."""


class InvalidAccount(LedgerError):
    """An account code that does not follow the chart of accounts."""


class InvalidEntry(LedgerError):
    """A journal entry that cannot be written (zero, sub-minor-unit or malformed amount)."""


class InvalidTransaction(LedgerError):
    """A transaction whose header (key, kind, reference, timestamp) is malformed."""


class UnbalancedTransaction(LedgerError):
    """A transaction whose entries do not sum to zero in every currency."""


class DayClosed(LedgerError):
    """A posting dated on a UTC day whose Merkle root has already been published."""


class ConcurrentAppend(LedgerError):
    """Another writer moved the chain head between our read and our write."""


class InvalidProof(LedgerError):
    """An inclusion proof request that cannot be answered (unknown transaction, open day)."""


class UnknownTransaction(LedgerError):
    """A transaction id that is not in the ledger."""
