"""Published vendor OCMF records (tests/data/ocmf/samples.json) parse and verify as published."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from evbill.metering.ocmf import (
    EnergyRefusal,
    MeterStatus,
    TimeSync,
    TransactionType,
    Verdict,
    parse_ocmf,
    session_energy,
    verify_ocmf,
)

from .ocmf_support import load_samples

SAMPLES = load_samples()
BY_NAME = {sample["name"]: sample for sample in SAMPLES}


def _verify(sample: dict[str, Any], key: str | None = None) -> list[Any]:
    return [verify_ocmf(record, key or sample["public_key"]) for record in sample["records"]]


def test_the_sample_file_names_a_source_for_every_sample() -> None:
    assert len(SAMPLES) >= 10
    for sample in SAMPLES:
        assert sample["source"].startswith("https://github.com/"), sample["name"]
        assert len(sample["records"]) == len(sample["expected_verdicts"])


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s["name"])
def test_sample_verdicts_are_as_published(sample: dict[str, Any]) -> None:
    verdicts = [result.verdict.value for result in _verify(sample)]
    assert verdicts == sample["expected_verdicts"]


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s["name"])
def test_sample_session_energy(sample: dict[str, Any]) -> None:
    energy = session_energy(*_verify(sample))
    if sample["energy_wh"] is None:
        assert energy.refusal is EnergyRefusal(sample.get("energy_refusal", "signature_invalid"))
        assert energy.energy_wh is None
    else:
        assert energy.refusal is None, energy.reason
        assert energy.energy_wh == Decimal(sample["energy_wh"])


def test_keba_record_fields() -> None:
    document = parse_ocmf(BY_NAME["keba_kcp30"]["records"][0])
    payload = document.payload
    assert payload.format_version == "1.0"
    assert payload.gateway.identification == "KEBA_KCP30"
    assert payload.gateway.serial == "17619300"
    assert str(payload.pagination) == "T32"
    assert payload.meter.serial is None  # the gateway serial identifies the signer
    assert payload.identification is not None
    assert payload.identification.flags == ("RFID_NONE", "OCPP_NONE", "ISO15118_NONE", "PLMN_NONE")
    begin, end = payload.readings
    assert begin.transaction is TransactionType.BEGIN and end.transaction is TransactionType.END
    assert begin.value == Decimal("0.2596") and str(begin.value) == "0.2596"
    assert begin.time.sync is TimeSync.INFORMATIVE and end.time.sync is TimeSync.RELATIVE
    assert begin.time.at.isoformat() == "2019-08-13T10:03:15+00:00"
    assert document.signature.algorithm == "ECDSA-secp256r1-SHA256"  # SA left out: the default


def test_the_tampered_keba_record_differs_only_in_the_date() -> None:
    original = BY_NAME["keba_kcp30"]["records"][0]
    tampered = BY_NAME["keba_kcp30_tampered"]["records"][0]
    assert tampered == original.replace("2019-08-13T10:03:15", "2019-08-12T10:03:15")
    assert verify_ocmf(tampered, BY_NAME["keba_kcp30"]["public_key"]).verdict is Verdict.INVALID


def test_lem_readings_carry_omitted_fields_over_from_the_previous_reading() -> None:
    readings = parse_ocmf(BY_NAME["lem_dcbm"]["records"][0]).readings
    assert [r.transaction for r in readings] == [TransactionType.BEGIN] * 2 + [
        TransactionType.END
    ] * 2
    assert [r.obis for r in readings] == ["1-0:1.8.0", "1-0:2.8.0"] * 2
    assert readings[1].time == readings[0].time and readings[3].time == readings[2].time
    assert readings[1].current_type == "DC"


def test_lem_export_register_can_be_chosen() -> None:
    (result,) = _verify(BY_NAME["lem_dcbm"])
    assert session_energy(result, register="1-0:2.8.0").energy_wh == Decimal("0")
    assert session_energy(result).energy_wh == Decimal("1101")


def test_dzg_reading_values_sent_as_strings_are_read_exactly() -> None:
    end = parse_ocmf(BY_NAME["dzg_secp256k1"]["records"][1])
    energy, seconds = end.readings
    assert energy.value == Decimal("3.988") and energy.unit == "kWh"
    assert seconds.value == Decimal("19") and seconds.unit == "sec"
    assert energy.status is MeterStatus.OK


def test_iskra_time_flag_does_not_block_the_energy() -> None:
    (result,) = _verify(BY_NAME["iskra_time_error"])
    begin = result.readings[0]
    assert begin.error_flags == "t" and begin.energy_usable and not begin.time_usable
    assert result.meter.manufacturer == "Iskra" and result.meter.serial == "W4155775"


def test_end_record_checked_with_a_foreign_key_is_invalid() -> None:
    sample = BY_NAME["dzg_second_key_wrong"]
    begin = verify_ocmf(sample["records"][0], sample["public_key"])
    end = verify_ocmf(sample["records"][1], sample["wrong_key_for_record_2"])
    assert begin.verdict is Verdict.VALID
    assert end.verdict is Verdict.INVALID
    assert "curve" in end.reason  # a secp256r1 key cannot check a secp256k1 signature
    assert session_energy(begin, end).refusal is EnergyRefusal.SIGNATURE_INVALID


def test_secp192k1_records_verify_and_a_changed_one_does_not() -> None:
    sample = BY_NAME["htb_secp192k1"]
    results = _verify(sample)
    assert {r.verdict for r in results} == {Verdict.VALID}
    assert "secp192k1" in results[0].reason
    changed = sample["records"][0].replace('"RV":7.01047', '"RV":7.01048')
    assert changed != sample["records"][0]
    tampered = verify_ocmf(changed, sample["public_key"])
    assert tampered.verdict is Verdict.INVALID and "does not match" in tampered.reason
