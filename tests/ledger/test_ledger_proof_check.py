"""`proof_check.py` works with the standard library alone, copied out of evbill."""

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import evbill.ledger.proof_check as proof_check
from evbill.ledger.merkle import inclusion_proof

HASHES = [f"{i:064x}" for i in range(1, 8)]
SCRIPT = Path(proof_check.__file__)


def test_the_checker_imports_only_the_standard_library_it_names() -> None:
    tree = ast.parse(SCRIPT.read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert imported == {"hashlib", "json", "sys"}


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    copy = tmp_path / "proof_check.py"
    shutil.copy(SCRIPT, copy)
    # -I: isolated mode, no site-packages and no evbill on the path.
    return subprocess.run([sys.executable, "-I", str(copy), *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=30, check=False)


def test_standalone_script_accepts_a_receipt_and_rejects_a_forgery(tmp_path: Path) -> None:
    proofs = [inclusion_proof("2025-03-01", HASHES, i).to_json() for i in (2, 3)]
    root = proofs[0]["root"]
    receipt = tmp_path / "receipt.json"
    receipt.write_text(json.dumps({"transaction": "t-1", "proofs": proofs}))
    ok = _run(tmp_path, str(receipt), root)
    assert (ok.returncode, ok.stdout.strip()) == (0, "valid"), ok.stderr

    proofs[1]["index"] = 4
    receipt.write_text(json.dumps({"proofs": proofs}))
    bad = _run(tmp_path, str(receipt), root)
    assert (bad.returncode, bad.stdout.strip()) == (1, "INVALID")


def test_standalone_script_checks_against_the_published_root(tmp_path: Path) -> None:
    single = tmp_path / "proof.json"
    single.write_text(json.dumps(inclusion_proof("2025-03-01", HASHES, 6).to_json()))
    assert _run(tmp_path, str(single)).returncode == 0
    assert _run(tmp_path, str(single), "ab" * 32).returncode == 1
    assert _run(tmp_path).returncode == 2
