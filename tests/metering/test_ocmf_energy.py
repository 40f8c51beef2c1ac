"""A session's signed energy from its BEGIN and END readings, or the reason there is none."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from evbill.metering.ocmf import (
    EnergyRefusal,
    OcmfEnergyError,
    OcmfVerification,
    payload_json,
    public_key_hex,
    session_energy,
    sign_ocmf,
    to_wh,
    verify_ocmf,
)

from .ocmf_support import meter_key, payload, reading

KEY = meter_key("secp256r1")
OTHER_KEY = meter_key("secp256r1", b"meter-2")
T0 = "2024-03-01T10:00:00,000+0100 S"
T1 = "2024-03-01T11:30:00,000+0100 S"


def signed(body: dict[str, Any], key: Any = KEY) -> OcmfVerification:
    return verify_ocmf(sign_ocmf(body, key), public_key_hex(key))


def begin_end(
    begin: dict[str, Any] | None = None, end: dict[str, Any] | None = None, **kw: Any
) -> tuple[OcmfVerification, OcmfVerification]:
    first = signed(payload([begin or reading(tm=T0)], pg="T7", **kw))
    last = signed(payload([end or reading(tm=T1, tx="E", rv=Decimal("1250.06"))], pg="T8", **kw))
    return first, last


def test_two_records_give_the_difference_in_wh() -> None:
    energy = session_energy(*begin_end())
    assert energy.ok and energy.refusal is None
    assert energy.energy_wh == Decimal("15500")
    assert energy.wh() == Decimal("15500")
    assert energy.begin is not None and energy.begin.value == Decimal("1234.56")
    assert energy.end is not None and energy.end.value == Decimal("1250.06")


def test_one_record_holding_both_readings() -> None:
    body = payload([reading(tm=T0), reading(tm=T1, tx="E", rv=Decimal("1234.99"))])
    assert session_energy(signed(body)).energy_wh == Decimal("430")


def test_mixed_units_convert_exactly() -> None:
    begin = reading(tm=T0, rv=Decimal("0.2596"), ru="kWh")
    end = reading(tm=T1, tx="E", rv=Decimal("260"), ru="Wh")
    assert session_energy(*begin_end(begin, end)).energy_wh == Decimal("0.4")


@settings(max_examples=150, deadline=None)
@given(
    start=st.decimals(min_value=0, max_value=10**6, places=4),
    delta=st.decimals(min_value=0, max_value=10**4, places=4),
)
def test_kwh_to_wh_is_exact_for_any_four_place_reading(start: Decimal, delta: Decimal) -> None:
    body = payload([reading(tm=T0, rv=start), reading(tm=T1, tx="E", rv=start + delta, ru="kWh")])
    assert session_energy(signed(body)).energy_wh == delta * 1000


@pytest.mark.parametrize("end_code", ["E", "L", "R", "A", "P"])
def test_every_end_code_ends_the_session(end_code: str) -> None:
    body = payload([reading(tm=T0), reading(tm=T1, tx=end_code, rv=Decimal("1235.56"))])
    assert session_energy(signed(body)).energy_wh == Decimal("1000")


def test_to_wh_units() -> None:
    assert to_wh(Decimal("1.5"), "kWh") == Decimal("1500")
    assert to_wh(Decimal("7"), "Wh") == Decimal("7")
    with pytest.raises(OcmfEnergyError, match="RU: 'sec' is not an energy unit"):
        to_wh(Decimal(1), "sec")


def _refusal(*results: OcmfVerification, register: str | None = None) -> EnergyRefusal | None:
    energy = session_energy(*results, register=register)
    assert (energy.energy_wh is None) is (energy.refusal is not None)
    if energy.refusal is not None:
        with pytest.raises(OcmfEnergyError, match=energy.refusal.value):
            energy.wh()
    return energy.refusal


def test_invalid_signature_refuses() -> None:
    first, _ = begin_end()
    forged_end = sign_ocmf(payload([reading(tm=T1, tx="E", rv=Decimal("9999"))], pg="T8"), KEY)
    forged = verify_ocmf(forged_end.replace('"RV":9999', '"RV":1999'), public_key_hex(KEY))
    assert _refusal(first, forged) is EnergyRefusal.SIGNATURE_INVALID
    assert "end record" in session_energy(first, forged).reason


def test_records_from_different_meters_refuse() -> None:
    first = signed(payload([reading(tm=T0)], pg="T7"))
    other_serial = signed(payload([reading(tm=T1, tx="E")], pg="T8", ms="EVB-0002"))
    assert _refusal(first, other_serial) is EnergyRefusal.DIFFERENT_METERS
    assert "MS" in session_energy(first, other_serial).reason
    other_key = signed(payload([reading(tm=T1, tx="E")], pg="T8"), OTHER_KEY)
    assert _refusal(first, other_key) is EnergyRefusal.DIFFERENT_METERS


def test_records_for_different_users_refuse() -> None:
    first = signed(payload([reading(tm=T0)], pg="T7", id_="04A1B2C3D4E5F6"))
    last = signed(payload([reading(tm=T1, tx="E")], pg="T8", id_="04FFFFFFFFFFFF"))
    assert _refusal(first, last) is EnergyRefusal.DIFFERENT_IDENTIFICATION


@pytest.mark.parametrize(("pg_begin", "pg_end"), [("T8", "T7"), ("T7", "T7"), ("T7", "F8")])
def test_pagination_must_ascend_in_one_context(pg_begin: str, pg_end: str) -> None:
    first = signed(payload([reading(tm=T0)], pg=pg_begin))
    last = signed(payload([reading(tm=T1, tx="E")], pg=pg_end))
    assert _refusal(first, last) is EnergyRefusal.PAGINATION_ORDER


def test_energy_error_flag_on_begin_end_or_between_refuses() -> None:
    flagged_end = reading(tm=T1, tx="E", ef="E")
    assert _refusal(*begin_end(end=flagged_end)) is EnergyRefusal.ERROR_FLAGS
    flagged_begin = reading(tm=T0, ef="Et")
    assert _refusal(*begin_end(begin=flagged_begin)) is EnergyRefusal.ERROR_FLAGS
    between = payload(
        [
            reading(tm=T0),
            reading(tm="2024-03-01T10:45:00,000+0100 S", tx="X", rv=Decimal("1240"), ef="E"),
            reading(tm=T1, tx="E", rv=Decimal("1250")),
        ]
    )
    assert _refusal(signed(between)) is EnergyRefusal.ERROR_FLAGS


def test_time_error_flag_alone_keeps_the_energy() -> None:
    assert session_energy(*begin_end(end=reading(tm=T1, tx="E", ef="t"))).ok


def test_meter_status_other_than_ok_refuses() -> None:
    manipulated = reading(tm=T1, tx="E", st="M")
    assert _refusal(*begin_end(end=manipulated)) is EnergyRefusal.METER_STATUS


def test_missing_begin_or_end_refuses() -> None:
    only_begin = signed(payload([reading(tm=T0)]))
    assert _refusal(only_begin) is EnergyRefusal.MISSING_END
    only_charging = signed(payload([reading(tm=T0, tx="C")]))
    assert _refusal(only_charging) is EnergyRefusal.MISSING_BEGIN
    no_value = {"TM": T1, "TX": "E", "EF": "", "ST": "G", "RI": "1-b:1.8.0"}
    assert _refusal(*begin_end(end=no_value)) is EnergyRefusal.MISSING_END
    other_register = reading(tm=T1, tx="E", ri="1-b:2.8.0")
    assert _refusal(*begin_end(end=other_register)) is EnergyRefusal.MISSING_END
    assert _refusal(signed(payload([reading()])), register="1-b:2.8.0") is (
        EnergyRefusal.MISSING_BEGIN
    )


def test_end_before_begin_in_one_record_is_not_an_end() -> None:
    body = payload([reading(tm=T0, tx="E", rv=Decimal(1)), reading(tm=T1, tx="B")])
    assert _refusal(signed(body)) is EnergyRefusal.MISSING_END


def test_non_energy_unit_refuses() -> None:
    seconds = payload(
        [reading(tm=T0, ru="sec", rv=Decimal(0)), reading(tm=T1, tx="E", ru="sec", rv=Decimal(9))]
    )
    assert _refusal(signed(seconds)) is EnergyRefusal.UNIT


def test_meter_running_backwards_refuses() -> None:
    backwards = reading(tm=T1, tx="E", rv=Decimal("1000"))
    assert _refusal(*begin_end(end=backwards)) is EnergyRefusal.NEGATIVE


def signed_as_meters_do(body: dict[str, Any]) -> OcmfVerification:
    """Signed directly with the key, bypassing the strict signer: for deviating payloads."""
    text = payload_json(body)
    signature = KEY.sign(text.encode(), ec.ECDSA(hashes.SHA256())).hex()
    result = verify_ocmf(f'OCMF|{text}|{{"SD":"{signature}"}}', public_key_hex(KEY))
    assert result.is_valid and result.warnings
    return result


def test_a_pagination_without_a_number_gives_no_order_between_records() -> None:
    first = signed_as_meters_do(payload([reading(tm=T0)], pg="T7a"))
    last = signed_as_meters_do(payload([reading(tm=T1, tx="E", rv=Decimal("1250"))], pg="T8a"))
    energy = session_energy(first, last)
    assert energy.refusal is EnergyRefusal.PAGINATION_ORDER
    assert "PG: begin T7a, end T8a" in energy.reason


def test_a_reading_without_meter_status_gives_no_energy() -> None:
    end = {k: v for k, v in reading(tm=T1, tx="E", rv=Decimal("1250")).items() if k != "ST"}
    body = payload([{**reading(tm=T0), "ST": "G"}, end])
    # ST carries over from the previous reading, so leave it out of both to have none.
    body["RD"] = [{k: v for k, v in r.items() if k != "ST"} for r in body["RD"]]
    energy = session_energy(signed_as_meters_do(body))
    assert energy.refusal is EnergyRefusal.METER_STATUS
    assert energy.reason == "ST: begin reading has meter status none"


def test_a_reading_without_unit_gives_no_energy() -> None:
    body = payload([reading(tm=T0), reading(tm=T1, tx="E", rv=Decimal("1250"))])
    body["RD"] = [{k: v for k, v in r.items() if k != "RU"} for r in body["RD"]]
    energy = session_energy(signed_as_meters_do(body))
    assert energy.refusal is EnergyRefusal.UNIT
