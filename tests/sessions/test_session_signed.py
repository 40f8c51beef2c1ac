"""Signed meter values (OCMF): billed on the signed begin/end difference, or flagged, never
silently billed on unsigned numbers."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from session_builders import STATION, at, kwh, start_cmd, stop_cmd

from evbill.accounts.stations import StationRegistry
from evbill.metering.ocmf import derive_private_key, public_key_hex, sign_ocmf
from evbill.sessions.commands import MeterReading, ReadingContext, SignedReading
from evbill.sessions.service import SessionService
from evbill.store import Database

METER = derive_private_key("secp256r1", b"session-tests-meter")
OTHER = derive_private_key("secp256r1", b"someone-else")
KEY = public_key_hex(METER)


def ocmf(tx: str, kwh_value: str, minute: int, page: int, key: Any = METER) -> str:
    tm = at(minute).strftime("%Y-%m-%dT%H:%M:%S,000+0000 S")
    body = {
        "FV": "1.0", "GI": "evbill SIM", "GS": "SIM-GW-1", "GV": "0.1.0", "PG": f"T{page}",
        "MV": "Phoenix Contact", "MM": "EEM-350-D-MCB", "MS": "EVB-0001", "MF": "1.0",
        "IS": True, "IL": "VERIFIED", "IF": ["RFID_PLAIN"], "IT": "ISO14443",
        "ID": "04A1B2C3D4E5F6",
        "RD": [{"TM": tm, "TX": tx, "RV": Decimal(kwh_value), "RI": "1-b:1.8.0", "RU": "kWh",
                "RT": "AC", "EF": "", "ST": "G"}],
    }  # fmt: skip
    return sign_ocmf(body, key)


def signed(minute: int, kwh_value: str, data: str, context: ReadingContext,
           public_key: str | None = None) -> MeterReading:
    return MeterReading(at=at(minute), energy_wh=kwh(kwh_value), context=context,
                        signed=SignedReading(data, "OCMF", public_key, context))  # fmt: skip


BEGIN, END = ReadingContext.TRANSACTION_BEGIN, ReadingContext.TRANSACTION_END


def run(service: SessionService, begin: str, end: str | None, key: str | None = None,
        meter_stop: str = "110.5") -> str:
    start = start_cmd(readings=(signed(0, "100", begin, BEGIN, key),))
    tx = service.start(start).transaction_id
    readings = () if end is None else (signed(60, "110.5", end, END, key),)
    service.stop(stop_cmd(tx, meter_stop_wh=kwh(meter_stop), readings=readings))
    return tx


def test_unsigned_stop_far_from_the_signed_end_holds_the_session(
    db: Database, service: SessionService
) -> None:
    StationRegistry(db).set_meter_key(STATION, KEY)
    # the unsigned meterStop (112 kWh) disagrees with the signed end reading (110.5 kWh)
    tx = run(service, ocmf("B", "100.000", 0, 1), ocmf("E", "110.500", 60, 2),
             meter_stop="112")
    detail = service.find_session(STATION, tx)
    assert detail is not None and detail.cdr is None
    assert detail.session.state == "held" and "implausible_reading" in detail.session.flags
    note = detail.review_note or ""
    assert "signed energy 10500 Wh differs from the unsigned readings' 12000 Wh" in note


def test_billed_energy_is_the_signed_difference(db: Database, service: SessionService) -> None:
    StationRegistry(db).set_meter_key(STATION, KEY)
    begin, end = ocmf("B", "100.000", 0, 1), ocmf("E", "110.500", 60, 2)
    tx = run(service, begin, end)
    detail = service.find_session(STATION, tx)
    assert detail is not None and detail.cdr is not None
    assert detail.session.state == "rated" and detail.session.flags == ()
    assert detail.session.energy_wh == kwh("10.5") and detail.cdr.energy_source == "signed"
    assert detail.cdr.total_cost_excl_vat == Decimal("3.15")
    assert detail.signed_data == (begin, end)  # verbatim
    ocpi = json.loads(detail.cdr.ocpi)
    values = ocpi["signed_data"]["signed_values"]
    assert [v["signed_data"] for v in values] == [begin, end]
    assert ocpi["signed_data"]["public_key"] == KEY and ocpi["total_energy"] == 10.5


def test_key_sent_with_the_data_is_used_when_none_is_registered(
    service: SessionService,
) -> None:
    tx = run(service, ocmf("B", "100", 0, 1), ocmf("E", "110.5", 60, 2), key=KEY)
    detail = service.find_session(STATION, tx)
    assert detail is not None and detail.session.state == "rated"
    assert detail.session.energy_wh == kwh("10.5")


@pytest.mark.parametrize("tamper", ["value", "wrong_key"])
def test_signatures_that_do_not_verify_flag_the_session_unrated(
    db: Database, service: SessionService, tamper: str
) -> None:
    StationRegistry(db).set_meter_key(STATION, KEY)
    begin = ocmf("B", "100.000", 0, 1)
    if tamper == "value":
        end = ocmf("E", "110.500", 60, 2).replace('"RV":110.500', '"RV":100.500')
        assert '"RV":100.500' in end
    else:
        end = ocmf("E", "110.500", 60, 2, key=OTHER)
    tx = run(service, begin, end)
    detail = service.find_session(STATION, tx)
    assert detail is not None
    assert detail.session.state == "finished" and detail.cdr is None
    assert "signature_invalid" in detail.session.flags
    assert detail.review_note is not None and "signature" in detail.review_note
    assert detail.signed_data == (begin, end)  # kept verbatim for the dispute


def test_missing_signed_end_is_not_billed_on_unsigned_numbers(
    db: Database, service: SessionService
) -> None:
    StationRegistry(db).set_meter_key(STATION, KEY, evse_id=1)
    tx = run(service, ocmf("B", "100", 0, 1), None)
    detail = service.find_session(STATION, tx)
    assert detail is not None and detail.cdr is None and detail.session.state == "finished"
    assert detail.session.flags == ("signed_data_incomplete",)
