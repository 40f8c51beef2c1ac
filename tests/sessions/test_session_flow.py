"""The session service end to end on both backends: happy path, duplicates, late and lost
messages, reconnects, and visibility to a second process."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from session_builders import STATION, Clock, at, energy, kwh, start_cmd, stop_cmd

from evbill.sessions.commands import (
    AuthorizationStatus,
    BootStation,
    ChargingState,
    RecordMeterValues,
)
from evbill.sessions.service import SessionService, UnknownStation
from evbill.store import Database
from evbill.tariffs import loads


def mv(tx: str | None, *readings: object, **kw: object) -> RecordMeterValues:
    return RecordMeterValues(station_id=STATION, evse_id=1, transaction_id=tx,
                             readings=tuple(readings), **kw)  # type: ignore[arg-type]


def test_boot_accepts_known_rejects_unknown(service: SessionService, clock: Clock) -> None:
    ok = service.boot(BootStation(STATION, "ocpp1.6", "ACME", "X1", at(0)))
    assert ok.accepted and ok.heartbeat_interval_s == 300 and ok.at == clock.now
    no = service.boot(BootStation("ROGUE", "ocpp1.6", "ACME", "X1", at(0)))
    assert not no.accepted and no.reason == "unknown station"
    with pytest.raises(UnknownStation, match="ROGUE"):
        service.start(start_cmd(station_id="ROGUE"))


def test_boot_auto_registers_when_configured(db: Database, service: SessionService,
                                             clock: Clock) -> None:
    auto = SessionService(db, service._settings.model_copy(update={"auto_register_stations": True}),
                          clock=clock)  # fmt: skip
    result = auto.boot(BootStation("NEW-1", "ocpp2.0.1", "ACME", "X2", at(0), "SN9"))
    assert result.accepted
    tx = auto.start(start_cmd(station_id="NEW-1")).transaction_id
    view = auto.find_session("NEW-1", tx)
    assert view is not None and view.session.state == "charging"


def test_happy_path_to_a_stored_priced_cdr(service: SessionService) -> None:
    started = service.start(start_cmd())
    assert started.authorization.status is AuthorizationStatus.ACCEPTED
    tx = started.transaction_id
    service.meter_values(mv(tx, energy(30, "105")))
    service.meter_values(mv(tx, energy(50, "110"), charging_state=ChargingState.EV_CONNECTED))
    stopped = service.stop(stop_cmd(tx, stopped_at=at(60)))
    assert stopped.transaction_id == tx
    detail = service.find_session(STATION, tx)
    assert detail is not None and detail.cdr is not None
    assert detail.session.state == "rated" and detail.session.flags == ()
    assert detail.session.energy_wh == Decimal(10000)
    # 10 kWh × 0.30 + 10 parked minutes × 0.10 = 4.00 excl. VAT, 4.76 incl.
    assert detail.cdr.total_cost_excl_vat == Decimal("4.00")
    assert detail.cdr.total_cost_incl_vat == Decimal("4.76")
    ocpi = loads(detail.cdr.ocpi)
    assert ocpi["id"] == detail.cdr.cdr_id and ocpi["currency"] == "EUR"
    assert ocpi["total_energy"] == Decimal(10)
    assert ocpi["cdr_token"]["uid"] == "04A1B2C3D4E5F6"
    assert [s.energy_wh for s in detail.samples] == [kwh(x) for x in ("100", "105", "110", "110")]


def test_duplicates_change_nothing_and_answer_the_same(service: SessionService,
                                                      db: Database) -> None:
    first = service.start(start_cmd())
    assert service.start(start_cmd()) == first
    tx = first.transaction_id
    values = mv(tx, energy(30, "105"), energy(31, "105.2"))
    first_mv = service.meter_values(values)
    assert service.meter_values(values) == first_mv
    stop = service.stop(stop_cmd(tx))
    assert service.stop(stop_cmd(tx)) == stop
    assert service.stop(stop_cmd(tx, seq_no=99)) == stop  # re-sent Ended under another seqNo
    assert len(service.list_sessions()) == 1
    detail = service.find_session(STATION, tx)
    assert detail is not None and detail.cdr is not None
    assert detail.session.energy_wh == kwh("10")
    assert len(detail.samples) == 4
    assert detail.cdr.total_cost_excl_vat == Decimal("3.00")


def test_transaction_event_resent_with_same_seq_no(service: SessionService) -> None:
    start = start_cmd(transaction_ref="abc-1", seq_no=0)
    assert service.start(start).transaction_id == "abc-1"
    update = mv("abc-1", energy(10, "102"), seq_no=1, charging_state=ChargingState.CHARGING)
    again = mv("abc-1", energy(11, "102.5"), seq_no=1)  # same seqNo, other content: a re-send
    service.meter_values(update)
    service.meter_values(again)
    detail = service.find_session(STATION, "abc-1")
    assert detail is not None
    assert [s.energy_wh for s in detail.samples] == [kwh("100"), kwh("102")]


def test_out_of_order_delivery_rebuilds_by_timestamp(service: SessionService) -> None:
    tx = "late-1"
    # the station was offline: Ended first, then the updates, then Started
    service.stop(stop_cmd(tx, stopped_at=at(60), meter_stop_wh=kwh("110"), seq_no=4))
    service.meter_values(mv(tx, energy(40, "108"), seq_no=3))
    service.meter_values(mv(tx, energy(20, "104"), seq_no=2))
    service.meter_values(mv(tx, energy(75, "111"), seq_no=5))  # after the stop: kept, not billed
    service.start(start_cmd(transaction_ref=tx, seq_no=1, started_at=at(0)))
    detail = service.find_session(STATION, tx)
    assert detail is not None and detail.cdr is not None
    assert detail.session.state == "rated" and detail.session.flags == ()
    assert detail.session.started_at == at(0) and detail.session.stopped_at == at(60)
    assert detail.session.energy_wh == kwh("10")
    assert detail.cdr.total_cost_excl_vat == Decimal("3.00")
    times = [s.at for s in detail.samples]
    assert times == sorted(times) and [s.in_session for s in detail.samples][-1] is False


def test_samples_arriving_after_the_stop_rerate_the_session(service: SessionService) -> None:
    tx = service.start(start_cmd()).transaction_id
    service.stop(stop_cmd(tx, stopped_at=at(60), meter_stop_wh=None,
                          readings=(energy(60, "110"),)))  # fmt: skip
    # full at 30 min, parked after: reported late, the CDR is re-rated with parking time
    parked = ChargingState.EV_CONNECTED
    late = service.meter_values(mv(tx, energy(30, "110"), charging_state=parked))
    detail = service.find_session(STATION, tx)
    assert detail is not None and detail.cdr is not None
    assert detail.session.energy_wh == kwh("10")
    assert detail.cdr.total_cost_excl_vat == Decimal("6.00")  # 3.00 energy + 30 min parking
    assert late.total_cost == detail.cdr.total_cost_incl_vat and late.currency == "EUR"
    assert json.loads(detail.cdr.ocpi)["total_parking_time"] == 0.5


def test_stop_without_start_is_kept_and_flagged(service: SessionService) -> None:
    result = service.stop(stop_cmd("777", evse_id=2, connector_id=1, meter_start_wh=kwh("50"),
                                   meter_stop_wh=kwh("62.5"),
                                   readings=(energy(0, "50"),)))  # fmt: skip
    assert result.transaction_id == "777"
    detail = service.find_session(STATION, "777")
    assert detail is not None
    assert "stop_without_start" in detail.session.flags
    assert detail.session.energy_wh == kwh("12.5") and detail.session.evse_id == 2
    assert detail.cdr is not None and detail.cdr.total_cost_excl_vat == Decimal("3.75")
    assert service.list_sessions(states=("rated",))[0].transaction_id == "777"
    # our own issued 1.6 ids never collide with the station-made one
    ids = {service.start(start_cmd(started_at=at(i), meter_start_wh=kwh(str(i)))).transaction_id
           for i in range(1, 4)}  # fmt: skip
    assert "777" not in ids and len(ids) == 3


def test_reconnect_continues_the_same_session(db: Database, settings: object,
                                              clock: Clock, station: str) -> None:
    gateway_a = SessionService(db, settings, clock=clock)  # type: ignore[arg-type]
    gateway_a.station_connected(STATION, at(0))
    tx = gateway_a.start(start_cmd()).transaction_id
    gateway_a.meter_values(mv(tx, energy(10, "102")))
    gateway_a.station_disconnected(STATION, at(11))
    assert gateway_a.find_session(STATION, tx).session.state == "charging"  # type: ignore[union-attr]
    # the process restarts (a new engine) and the station reconnects and reports offline data
    other = Database.open(str(db.engine.url.render_as_string(hide_password=False)))
    try:
        gateway_b = SessionService(other, settings, clock=clock)  # type: ignore[arg-type]
        gateway_b.station_connected(STATION, at(40))
        gateway_b.meter_values(mv(tx, energy(30, "106")))
        gateway_b.stop(stop_cmd(tx))
        assert len(gateway_b.list_sessions(station_id=STATION)) == 1
        detail = gateway_b.find_session(STATION, tx)
        assert detail is not None and detail.session.state == "rated"
        assert detail.session.energy_wh == kwh("10")
    finally:
        other.dispose()


def test_meter_values_without_transaction_attach_by_time(service: SessionService) -> None:
    orphan = mv(None, energy(-30, "99"))  # before any session: kept without one
    service.meter_values(orphan)
    tx = service.start(start_cmd()).transaction_id
    service.meter_values(mv(None, energy(15, "103")))
    detail = service.find_session(STATION, tx)
    assert detail is not None
    assert [s.energy_wh for s in detail.samples] == [kwh("100"), kwh("103")]


def test_list_filters(service: SessionService) -> None:
    a = service.start(start_cmd()).transaction_id
    service.start(start_cmd(evse_id=2, started_at=at(5)))
    service.stop(stop_cmd(a))
    assert {v.state for v in service.list_sessions()} == {"rated", "charging"}
    assert [v.transaction_id for v in service.list_sessions(states=("rated",))] == [a]
    assert service.list_sessions(since=at(1))[0].evse_id == 2
    assert service.list_sessions(station_id="OTHER") == []
