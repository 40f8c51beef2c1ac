"""Daily Merkle roots and inclusion proofs over entry hashes, RFC 6962 style.

Leaves are the day's entry hashes (32 raw bytes each) in sequence order. With domain
separation as in RFC 6962 §2.1: leaf = SHA-256(0x00 ‖ entry hash), node = SHA-256(0x01 ‖ left
‖ right); a tree of n > 1 leaves splits at the largest power of two below n; the empty tree
is SHA-256 of nothing. Proofs are RFC 6962 audit paths, checked by `proof_check.py`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "EMPTY_ROOT",
    "DailyRoot",
    "InclusionProof",
    "MerkleAccumulator",
    "close_day",
    "inclusion_proof",
    "leaf_hash",
    "merkle_root",
    "node_hash",
]

EMPTY_ROOT: Final = hashlib.sha256(b"").hexdigest()
PROOF_VERSION: Final = 1


def leaf_hash(entry_hash: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry_hash).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class MerkleAccumulator:
    """Streams leaves in and yields the RFC 6962 root without keeping them (O(log n) memory).

    Complete subtrees are merged as soon as two of the same size meet; at the end the remaining
    peaks are folded right to left, which is exactly the "largest power of two" split.
    """

    __slots__ = ("_peaks", "count")

    def __init__(self) -> None:
        self._peaks: list[tuple[int, bytes]] = []  # (subtree size, hash), sizes decreasing
        self.count = 0

    def add(self, entry_hash: bytes) -> None:
        size, node = 1, leaf_hash(entry_hash)
        peaks = self._peaks
        while peaks and peaks[-1][0] == size:
            left_size, left = peaks.pop()
            size, node = size + left_size, node_hash(left, node)
        peaks.append((size, node))
        self.count += 1

    def root(self) -> str:
        if not self._peaks:
            return EMPTY_ROOT
        node = self._peaks[-1][1]
        for _, left in reversed(self._peaks[:-1]):
            node = node_hash(left, node)
        return node.hex()


def merkle_root(entry_hashes: Iterable[str]) -> str:
    """Root (hex) over hex entry hashes, in order."""
    acc = MerkleAccumulator()
    for digest in entry_hashes:
        acc.add(bytes.fromhex(digest))
    return acc.root()


def _subtree(leaves: Sequence[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaves[0]
    split = _split(len(leaves))
    return node_hash(_subtree(leaves[:split]), _subtree(leaves[split:]))


def _split(n: int) -> int:
    """Largest power of two strictly below n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _path(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """RFC 6962 §2.1.1 PATH(m, D[n]), siblings listed from the leaf upwards."""
    if len(leaves) <= 1:
        return []
    split = _split(len(leaves))
    if index < split:
        return [*_path(index, leaves[:split]), _subtree(leaves[split:])]
    return [*_path(index - split, leaves[split:]), _subtree(leaves[:split])]


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """Proof that one entry hash is leaf `index` of the `tree_size`-leaf tree of `day`."""

    day: str
    entry_hash: str
    leaf_hash: str
    index: int
    tree_size: int
    siblings: tuple[str, ...]
    root: str

    def to_json(self) -> dict[str, Any]:
        return {
            "version": PROOF_VERSION,
            "day": self.day,
            "entry_hash": self.entry_hash,
            "leaf_hash": self.leaf_hash,
            "index": self.index,
            "tree_size": self.tree_size,
            "siblings": list(self.siblings),
            "root": self.root,
        }


def inclusion_proof(day: str, entry_hashes: Sequence[str], index: int) -> InclusionProof:
    """The audit path for leaf `index` among the day's `entry_hashes` (hex, in order)."""
    if not 0 <= index < len(entry_hashes):
        raise IndexError(f"index: {index} outside a tree of {len(entry_hashes)} leaves")
    leaves = [leaf_hash(bytes.fromhex(h)) for h in entry_hashes]
    return InclusionProof(
        day=day,
        entry_hash=entry_hashes[index],
        leaf_hash=leaves[index].hex(),
        index=index,
        tree_size=len(leaves),
        siblings=tuple(node.hex() for node in _path(index, leaves)),
        root=_subtree(leaves).hex(),
    )


@dataclass(frozen=True, slots=True)
class DailyRoot:
    """The published Merkle root over one UTC day's entries (`day` is `YYYY-MM-DD`)."""

    day: str
    entry_count: int
    root: str


def close_day(day: str, entry_hashes: Iterable[str]) -> DailyRoot:
    """The root of a day from its entry hashes in sequence order."""
    acc = MerkleAccumulator()
    for digest in entry_hashes:
        acc.add(bytes.fromhex(digest))
    return DailyRoot(day=day, entry_count=acc.count, root=acc.root())
