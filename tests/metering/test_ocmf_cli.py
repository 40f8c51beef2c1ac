"""`evbill ocmf verify`: exit 0 when the signature verifies, 1 when not, 2 for unreadable input."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

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
