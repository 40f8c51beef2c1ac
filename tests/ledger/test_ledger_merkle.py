"""Merkle roots for 1..n leaves against a literal RFC 6962 implementation, and every proof."""

import hashlib
import json

import pytest

from evbill.ledger.merkle import (
    EMPTY_ROOT,
    MerkleAccumulator,
    close_day,
    inclusion_proof,
    merkle_root,
)
from evbill.ledger.proof_check import check_proof


def h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def rfc6962_mth(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) exactly as RFC 6962 §2.1 writes it (recursive, on raw leaf data)."""
    n = len(leaves)
    if n == 0:
        return h(b"")
    if n == 1:
        return h(b"\x00" + leaves[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return h(b"\x01" + rfc6962_mth(leaves[:k]) + rfc6962_mth(leaves[k:]))


def entry_hashes(n: int) -> list[str]:
    return [hashlib.sha256(f"entry {i}".encode()).hexdigest() for i in range(n)]


def test_empty_and_single_leaf() -> None:
    assert merkle_root([]) == EMPTY_ROOT == hashlib.sha256(b"").hexdigest()
    only = entry_hashes(1)[0]
    assert merkle_root([only]) == h(b"\x00" + bytes.fromhex(only)).hex()


def test_three_leaves_by_hand() -> None:
    a, b, c = (bytes.fromhex(x) for x in entry_hashes(3))
    la, lb, lc = (h(b"\x00" + x) for x in (a, b, c))
    expected = h(b"\x01" + h(b"\x01" + la + lb) + lc)
    assert merkle_root(entry_hashes(3)) == expected.hex()


@pytest.mark.parametrize("n", [*range(1, 34), 63, 64, 65, 100, 1000])
def test_streamed_root_matches_rfc6962(n: int) -> None:
    hashes = entry_hashes(n)
    assert merkle_root(hashes) == rfc6962_mth([bytes.fromhex(x) for x in hashes]).hex()


def test_accumulator_counts_and_close_day() -> None:
    acc = MerkleAccumulator()
    for digest in entry_hashes(5):
        acc.add(bytes.fromhex(digest))
    root = close_day("2025-03-01", entry_hashes(5))
    assert (root.entry_count, root.root) == (acc.count, acc.root()) == (5, acc.root())


@pytest.mark.parametrize("n", [*range(1, 18), 31, 32, 33])
def test_proof_for_every_index_checks(n: int) -> None:
    hashes = entry_hashes(n)
    root = merkle_root(hashes)
    for index in range(n):
        proof = inclusion_proof("2025-03-01", hashes, index)
        assert proof.root == root
        assert len(proof.siblings) <= max(1, n - 1).bit_length()
        assert check_proof(proof.to_json(), root)
        assert check_proof(json.dumps(proof.to_json()))


def _mutations(proof: dict[str, object]) -> list[dict[str, object]]:
    siblings = list(proof["siblings"])  # type: ignore[call-overload]
    bad = []
    for i in range(len(siblings)):
        flipped = siblings.copy()
        flipped[i] = ("1" if flipped[i][0] == "0" else "0") + flipped[i][1:]
        bad.append({**proof, "siblings": flipped})
    other_leaf = hashlib.sha256(b"other").hexdigest()
    bad += [
        {**proof, "index": proof["index"] + 1},  # type: ignore[operator]
        {**proof, "tree_size": proof["index"]},  # leaf outside the tree
        {**proof, "siblings": [*siblings, "00" * 32]},
        {**proof, "root": "ab" * 32},
        {**proof, "entry_hash": other_leaf},
        {k: v for k, v in proof.items() if k != "siblings"},
        {**proof, "index": -1},
        {**proof, "leaf_hash": "zz"},
    ]
    if siblings:
        bad.append({**proof, "siblings": siblings[:-1]})
    return bad


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13])
def test_any_change_to_a_proof_fails(n: int) -> None:
    hashes = entry_hashes(n)
    for index in range(n):
        proof = inclusion_proof("2025-03-01", hashes, index).to_json()
        for bad in _mutations(proof):
            assert not check_proof(bad), (index, bad)


def test_a_proof_does_not_check_against_another_published_root() -> None:
    proof = inclusion_proof("2025-03-01", entry_hashes(4), 2).to_json()
    assert not check_proof(proof, merkle_root(entry_hashes(5)))
    assert not check_proof(proof, "not hex")
    assert not check_proof("{not json")


def test_proof_index_out_of_range() -> None:
    with pytest.raises(IndexError, match="index: 3 outside a tree of 3 leaves"):
        inclusion_proof("2025-03-01", entry_hashes(3), 3)
