"""Real meters' records from public OCMF verifier test data (tests/data/ocmf/real/): evbill gives
each the verdict established independently by real/independent_verdicts.py (ecdsa and
cryptography used directly, not evbill's code)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from evbill.metering.ocmf import read_records, verify_ocmf

REAL = Path(__file__).resolve().parents[1] / "data" / "ocmf" / "real"
RECORDS: list[dict[str, Any]] = [
    json.loads(line) for line in (REAL / "records.jsonl").read_text(encoding="utf-8").splitlines()
]


def _id(entry: dict[str, Any]) -> str:
    pagination = json.loads(entry["record"].split("|")[1]).get("PG", "-")
    return f"{entry['vendor'].split()[0]}-{Path(entry['source'].split()[0]).stem}-{pagination}"


@pytest.mark.parametrize("entry", RECORDS, ids=[_id(e) for e in RECORDS])
def test_evbill_verdict_equals_the_independent_verdict(entry: dict[str, Any]) -> None:
    result = verify_ocmf(entry["record"], entry["public_key"])
    assert result.verdict.value == entry["expected"], result.reason


def test_the_corpus_covers_every_vendor_style_and_both_verdicts() -> None:
    def count(vendor: str) -> int:
        return sum(vendor in entry["vendor"] for entry in RECORDS)

    for vendor in ("eBee", "DZG", "NZR", "Isabellenhuette", "HTB", "eBZ", "BAUER", "SEAL"):
        assert count(vendor) >= 2, vendor
    assert count("ChargePoint") == count("OCMF 0.1") == count("LEM") == count("Iskra") == 1
    assert count("KEBA") >= 100
    verdicts = Counter(entry["expected"] for entry in RECORDS)
    assert verdicts["valid"] >= 156 and verdicts["invalid"] >= 4
    assert len({entry["record"] for entry in RECORDS}) == len(RECORDS)  # no record twice


def test_every_source_is_named_in_sources_md() -> None:
    sources = (REAL / "SOURCES.md").read_text(encoding="utf-8")
    for entry in RECORDS:
        assert entry["repo"] in sources
        assert Path(entry["source"].split()[0]).name in sources, entry["source"]


def test_the_reference_softwares_leniencies_occur_in_real_records() -> None:
    """The deviations the issue names are in the corpus and read as warnings, not refusals."""
    warnings = Counter(
        warning.split(":")[0]
        for entry in RECORDS
        for warning in verify_ocmf(entry["record"], entry["public_key"]).warnings
    )
    assert warnings["IT"] >= 90  # KEBA: "IS":false and no IT
    assert warnings["IS"] >= 1  # OCMF 0.1: "IS":"VERIFIED"
    assert warnings["FV"] >= 1  # "FV":1.0 as a number
    assert warnings["SD"] >= 3  # Isabellenhütte r‖s (2), eBZ non-strict DER (1)


def test_the_committed_xml_container_holds_the_same_records_and_keys() -> None:
    entries = read_records((REAL / "records.xml").read_text(encoding="utf-8"))
    assert [(e.text, e.public_key) for e in entries] == [
        (entry["record"], entry["public_key"]) for entry in RECORDS
    ]
