"""Check an evbill ledger inclusion proof with the Python standard library alone.

Copy this file anywhere and run `python3 proof_check.py PROOF.json [PUBLISHED_ROOT]`: it exits
0 when the proof's entry is in the day's Merkle tree (and that tree's root is the published
one), 1 otherwise. Leaves and nodes are hashed as in RFC 6962: SHA-256(0x00 ‖ entry hash) and
SHA-256(0x01 ‖ left ‖ right); the audit path is checked as in RFC 9162 §2.1.3.2.
"""

import hashlib
import json
import sys


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _hex(value: object) -> bytes:
    if not isinstance(value, str) or len(value) != 64:
        raise ValueError("not a 32-byte hex hash")
    return bytes.fromhex(value)


def _fields(proof: object) -> tuple[int, int, bytes, list[bytes], bytes]:
    """(index, tree_size, leaf hash, siblings, root) from a proof, or ValueError."""
    if isinstance(proof, str):
        proof = json.loads(proof)
    if not isinstance(proof, dict):
        raise ValueError("a proof is a JSON object")
    index, size, siblings = proof.get("index"), proof.get("tree_size"), proof.get("siblings")
    if type(index) is not int or type(size) is not int or not isinstance(siblings, list):
        raise ValueError("index and tree_size are integers, siblings a list")
    leaf = _hex(proof.get("leaf_hash"))
    if "entry_hash" in proof and _sha(b"\x00" + _hex(proof["entry_hash"])) != leaf:
        raise ValueError("leaf_hash is not the leaf of entry_hash")
    return index, size, leaf, [_hex(s) for s in siblings], _hex(proof.get("root"))


def check_proof(proof: object, published_root: str | None = None) -> bool:
    """True if `proof` (dict or JSON text) proves inclusion under its root (or `published_root`)."""
    try:
        fn, size, node, siblings, root = _fields(proof)
        if published_root is not None and _hex(published_root) != root:
            return False
    except ValueError:
        return False
    if not 0 <= fn < size:
        return False
    sn = size - 1
    for sibling in siblings:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            node = _sha(b"\x01" + sibling + node)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            node = _sha(b"\x01" + node + sibling)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and node == root


def main(argv: list[str]) -> int:
    """Command line: check one proof, a list of proofs, or a receipt's `{"proofs": [...]}`."""
    if len(argv) not in (2, 3):
        print("usage: proof_check.py PROOF.json [PUBLISHED_ROOT_HEX]", file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as handle:
        document = json.load(handle)
    proofs = document.get("proofs", [document]) if isinstance(document, dict) else document
    root = argv[2] if len(argv) == 3 else None
    ok = isinstance(proofs, list) and bool(proofs) and all(check_proof(p, root) for p in proofs)
    print("valid" if ok else "INVALID")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
