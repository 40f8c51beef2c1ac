"""`evbill ocmf verify`: a verdict per record (strings, files, XML containers); exit 0 when every
signature verifies, 1 when one does not, 2 for unreadable input."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from typer.testing import CliRunner

from evbill.cli import app
from evbill.metering.ocmf import public_key_hex, sign_ocmf

from .ocmf_support import load_samples, meter_key, payload, reading

KEY = meter_key("secp256r1")
KEY_HEX = public_key_hex(KEY)
SIGNED = sign_ocmf(
    payload(
        [
            reading(tm="2024-03-01T10:00:00,000+0100 S"),
            reading(tm="2024-03-01T11:00:00,000+0100 S", tx="E", rv=Decimal("1240.56")),
        ]
    ),
    KEY,
)
SAMPLES = {sample["name"]: sample for sample in load_samples()}


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["ocmf", "verify", *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_valid_record_exits_0_and_prints_readings_verdict_and_energy() -> None:
    code, out, err = run("--public-key", KEY_HEX, SIGNED)
    assert code == 0, err
    assert "record 1: valid" in out and "PG T7" in out
    assert "meter Phoenix Contact EEM-350-D-MCB EVB-0001" in out
    assert "energy_wh: 6000" in out
    assert out.strip().endswith("verdict: valid")
    assert "1234.56" in err and "1240.56" in err  # the readings table goes to stderr


def test_tampered_record_exits_1() -> None:
    code, out, _ = run("-k", KEY_HEX, SIGNED.replace('"RV":1240.56', '"RV":1340.56'))
    assert code == 1
    assert "record 1: invalid" in out and out.strip().endswith("verdict: invalid")


def test_wrong_key_exits_1() -> None:
    code, out, _ = run("-k", public_key_hex(meter_key("secp256r1", b"other")), SIGNED)
    assert code == 1
    assert "signature does not match" in out


def test_secp192k1_record_verifies_without_openssl() -> None:
    sample = SAMPLES["htb_secp192k1"]
    code, out, _ = run("-k", sample["public_key"], sample["records"][0])
    assert code == 0
    assert "record 1: valid (signature verifies (ECDSA-secp192k1-SHA256))" in out


def test_unreadable_ocmf_exits_2_with_a_one_line_reason() -> None:
    code, out, err = run("-k", KEY_HEX, "OCMF|{}")
    assert code == 2
    assert out == ""
    assert err.strip().splitlines() == [
        "error: OCMF: expected 'OCMF|{payload}|{signature}' (3 sections separated by '|'), "
        "found 2 section(s)"
    ]


def test_unreadable_key_exits_2() -> None:
    code, _, err = run("-k", "not-a-key", SIGNED)
    assert code == 2
    assert "public key" in err


def test_missing_file_exits_2() -> None:
    code, _, err = run("-k", KEY_HEX, "@/nonexistent/record.ocmf")
    assert code == 2
    assert "OCMF_STRING: cannot read /nonexistent/record.ocmf" in err


def test_reads_stdin_and_files_and_both_records_of_a_session(tmp_path: Path) -> None:
    sample = SAMPLES["ebee_dzg"]
    code, out, _ = run("-k", sample["public_key"], "-", stdin="\n".join(sample["records"]))
    assert code == 0
    assert "record 1: valid" in out and "record 2: valid" in out
    assert "energy_wh: 0" in out
    record_file = tmp_path / "lem.ocmf"
    record_file.write_text(SAMPLES["lem_dcbm"]["records"][0] + "\n", encoding="utf-8")
    key_file = tmp_path / "lem.pub"
    key_file.write_text(SAMPLES["lem_dcbm"]["public_key"], encoding="utf-8")
    code, out, _ = run("-k", f"@{key_file}", f"@{record_file}")
    assert code == 0
    assert "energy_wh: 1101.000" in out


def test_pretty_printed_spec_example_is_readable_but_does_not_verify() -> None:
    example = Path(__file__).resolve().parents[1] / "data" / "ocmf" / "spec_example.ocmf"
    code, out, _ = run("-k", KEY_HEX, f"@{example}")
    assert code == 1
    assert "record 1: invalid" in out and "PG T12345" in out


REAL = Path(__file__).resolve().parents[1] / "data" / "ocmf" / "real" / "records.jsonl"
REAL_RECORDS = [json.loads(line) for line in REAL.read_text(encoding="utf-8").splitlines()]


def _container(values: list[tuple[str, str | None]], namespace: str = "", extra: str = "") -> str:
    xmlns = f' xmlns="{namespace}"' if namespace else ""
    parts = [f'<?xml version="1.0" encoding="UTF-8"?>\n<values{xmlns}>']
    for signed, key in values:
        key_xml = "" if key is None else f'<publicKey encoding="hex">{escape(key)}</publicKey>'
        parts.append(
            f'<value><signedData format="OCMF" encoding="plain">{escape(signed)}</signedData>'
            f"{key_xml}</value>"
        )
    parts.append(extra + "</values>\n")
    return "\n".join(parts)


def test_a_file_of_records_one_per_line_gets_a_verdict_each(tmp_path: Path) -> None:
    keba = [e for e in REAL_RECORDS if e["source"].endswith("/keba_test.xml")]
    assert len(keba) == 100 and len({e["public_key"] for e in keba}) == 1
    records = tmp_path / "keba.ocmf"
    records.write_text("\n".join(e["record"] for e in keba) + "\n", encoding="utf-8")
    code, out, err = run("--file", str(records), "-k", keba[0]["public_key"])
    assert code == 0, err
    lines = [line for line in out.splitlines() if line.startswith("record ")]
    assert len(lines) == 100 and all(": valid (" in line for line in lines)
    assert "record 100: valid" in out and "PG T46768" in out
    assert out.count("  warning: IT: missing, the identification type is unknown") == 95
    assert "records: 100 (valid 100, invalid 0, unreadable 0, skipped 0)" in out
    assert out.strip().endswith("verdict: valid")
    assert "OCMF readings" not in err  # no 100-record table; a progress bar instead


def test_one_invalid_record_in_a_file_makes_the_exit_code_1(tmp_path: Path) -> None:
    keba = [e for e in REAL_RECORDS if e["source"].endswith("/keba_test.xml")][:3]
    tampered = keba[1]["record"].replace('"RV":1234.56', '"RV":1234.57', 1)
    records = tmp_path / "three.ocmf"
    records.write_text("\n".join([keba[0]["record"], tampered, keba[2]["record"]]), "utf-8")
    code, out, _ = run("-f", str(records), "-k", keba[0]["public_key"])
    assert code == 1
    assert "record 1: valid" in out and "record 3: valid" in out
    assert "record 2: invalid (signature does not match the payload and public key)" in out
    assert "records: 3 (valid 2, invalid 1, unreadable 0, skipped 0)" in out


def test_the_transparency_xml_container_of_every_real_record(tmp_path: Path) -> None:
    """All 160 real records in one container, each with its own key, plus a non-OCMF value."""
    sml = '<value><signedData format="SML_EDL40_P" encoding="base64">AAAA</signedData></value>'
    container = tmp_path / "real.xml"
    container.write_text(
        _container(
            [(e["record"], e["public_key"]) for e in REAL_RECORDS],
            namespace="http://transparenz.software/schema/2018/07",
            extra=sml,
        ),
        encoding="utf-8",
    )
    code, out, _ = run("--file", str(container))
    assert code == 1  # the 4 published negative examples
    for number, entry in enumerate(REAL_RECORDS, start=1):
        assert f"record {number}: {entry['expected']} (" in out, (number, entry["source"])
    assert f"record {len(REAL_RECORDS) + 1}: skipped (format SML_EDL40_P is not OCMF)" in out
    valid = sum(e["expected"] == "valid" for e in REAL_RECORDS)
    assert (
        f"records: {len(REAL_RECORDS)} (valid {valid}, invalid 4, unreadable 0, skipped 1)" in out
    )


def test_container_keys_base64_signed_data_and_the_key_option_overriding(tmp_path: Path) -> None:
    keba = next(e for e in REAL_RECORDS if e["source"].endswith("test_ocmf_keba_kcp30.xml"))
    other_key = public_key_hex(meter_key("secp256r1", b"someone else"))
    encoded = base64.b64encode(keba["record"].encode()).decode()
    container = tmp_path / "c.xml"
    container.write_text(
        '<values><value><signedData format="OCMF" encoding="base64">'
        f"{encoded}</signedData><publicKey>{other_key}</publicKey></value></values>",
        encoding="utf-8",
    )
    code, out, _ = run("-f", str(container))
    assert code == 1 and "record 1: invalid (signature does not match" in out
    code, out, _ = run("-f", str(container), "-k", keba["public_key"])
    assert code == 0 and "record 1: valid" in out


def test_container_record_without_any_key_is_unreadable_exit_2(tmp_path: Path) -> None:
    entries = REAL_RECORDS[:2]
    container = tmp_path / "c.xml"
    container.write_text(
        _container(
            [(entries[0]["record"], entries[0]["public_key"]), (entries[1]["record"], None)]
        ),
        encoding="utf-8",
    )
    code, out, _ = run("-f", str(container))
    assert code == 2
    assert "record 1: valid" in out
    assert "record 2: unreadable (no public key: give --public-key)" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('<?xml version="1.0"?><!DOCTYPE v [<!ENTITY x "y">]><values/>', "XML: document type"),
        ("<values><value>", "XML: not a readable container"),
        ("<values><other/></values>", "XML: no <value> element"),
        ('<values><value><signedData format="SML">x</signedData></value></values>', "no OCMF"),
    ],
)
def test_unreadable_containers_exit_2(tmp_path: Path, content: str, message: str) -> None:
    container = tmp_path / "bad.xml"
    container.write_text(content, encoding="utf-8")
    code, out, err = run("-f", str(container), "-k", KEY_HEX)
    assert code == 2 and out == ""
    assert message in err


def test_either_a_string_or_a_file(tmp_path: Path) -> None:
    code, _, err = run("-k", KEY_HEX)
    assert code == 2 and "give either OCMF_STRING or --file" in err
    code, _, err = run("-k", KEY_HEX, SIGNED, "--file", str(tmp_path / "x"))
    assert code == 2 and "give either OCMF_STRING or --file" in err
