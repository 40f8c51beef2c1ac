"""Readings reconciled within their precision, and implausible ones held, never billed.

Pure checks first (`reconcile`, `implausible`), then the same rules through the session
service: a held session has no CDR until an operator resolves it, and the resolve is kept
in the audit trail.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from session_builders import STATION, T0, at, energy, kwh, start_cmd, stop_cmd
from sqlalchemy import select

from evbill.config import Settings
from evbill.sessions.commands import IdToken, MeterReading, RecordMeterValues
from evbill.sessions.plausibility import Limits, implausible
from evbill.sessions.review import ReviewError, SessionReview
from evbill.sessions.service import SessionService
from evbill.sessions.timeline import Point, build_timeline
from evbill.store import Database
from evbill.store.tables import CdrRow, SessionReviewRow, SessionRow

LIMITS = Limits(now=at(120), max_power_w=D(22_000), tolerance_percent=D(10),
                clock_skew=timedelta(minutes=5), station_since=T0 - timedelta(days=1))


def test_an_integer_meter_stop_just_below_the_last_decimal_sample_is_that_reading() -> None:
    samples = [Point(at(1), D("10.5")), Point(at(2), D("66.25"))]
    timeline = build_timeline(at(0), at(2), D(0), D(66), samples)  # 1.6: meterStop 66
    assert timeline.falls == ()
    assert [p.energy_wh for p in timeline.points] == [D(0), D("10.5"), D("66.25")]
    assert timeline.energy_wh == D("66.25")
    assert implausible(timeline, at(0), at(2), LIMITS) == []
    later = build_timeline(at(0), at(3), D(0), D(66), samples)  # the stop a minute after
    assert later.falls == () and later.energy_wh == D("66.25")
    fell = build_timeline(at(0), at(3), D(0), D(65), samples)  # 1.25 Wh lower: a fall
    assert len(fell.falls) == 1


def test_a_register_reset_is_a_fall_listed_once() -> None:
    samples = [Point(at(m), D(v)) for m, v in ((10, 5000), (20, 5200), (30, 10), (40, 40))]
    timeline = build_timeline(at(0), at(50), D(4000), D(60), samples)
    assert len(timeline.falls) == 1
    fall = timeline.falls[0]
    assert (fall.at, fall.before_wh, fall.after_wh) == (at(30), D(5200), D(10))
    reasons = implausible(timeline, at(0), at(50), LIMITS)
    assert reasons and "register fell from 5200 Wh to 10 Wh" in reasons[0]


def test_energy_beyond_the_evse_power_is_implausible() -> None:
    absurd = build_timeline(at(0), at(1), D(1000), D(2147483647), [])
    reasons = implausible(absurd, at(0), at(1), LIMITS)
    assert len(reasons) == 1 and "more than the EVSE's maximum 22 kW allows" in reasons[0]
    # 22 kW for an hour plus 10 %: fine; 20 % more: held
    fine = build_timeline(at(0), at(60), D(0), D(24_200), [])
    assert implausible(fine, at(0), at(60), LIMITS) == []
    too_much = build_timeline(at(0), at(60), D(0), D(26_400), [])
    assert implausible(too_much, at(0), at(60), LIMITS)


def test_timestamps_in_the_future_or_before_the_station_are_implausible() -> None:
    late = build_timeline(at(0), at(200), D(0), D(10), [])  # now is at(120), skew 5 min
    assert "in the future" in implausible(late, at(0), at(200), LIMITS)[0]
    skewed = build_timeline(at(0), at(124), D(0), D(10), [])
    assert implausible(skewed, at(0), at(124), LIMITS) == []  # inside the clock skew
    early = at(0) - timedelta(days=60)  # a month of hand-over allowed, not more
    old = build_timeline(early, at(0), D(0), D(10), [])
    assert "before the station was registered" in " ".join(
        implausible(old, early, at(0), LIMITS))


def test_signed_energy_must_agree_with_the_unsigned_readings() -> None:
    timeline = build_timeline(at(0), at(60), D(100_000), D(110_000), [])
    assert implausible(timeline, at(0), at(60), LIMITS, signed_energy_wh=D(9_950)) == []
    reasons = implausible(timeline, at(0), at(60), LIMITS, signed_energy_wh=D(9_000))
    assert "signed energy 9000 Wh differs" in reasons[0]


# --- through the service ---------------------------------------------------------------

def _row(db: Database, tx: str) -> SessionRow:
    with db.read_sessions() as s:
        return s.scalars(select(SessionRow).where(SessionRow.transaction_id == tx)).one()


def test_a_1_6_style_session_with_decimal_samples_is_rated(service: SessionService) -> None:
    tx = service.start(start_cmd(meter_start_wh=D(0))).transaction_id
    service.meter_values(RecordMeterValues(STATION, 1, tx, (
        MeterReading(at(30), D("3300.75")), MeterReading(at(59), D("6600.25")))))
    service.stop(stop_cmd(tx, stopped_at=at(59), meter_stop_wh=D(6600)))
    detail = service.find_session(STATION, tx)
    assert detail is not None and detail.session.state == "rated", detail.review_note
    assert detail.session.energy_wh == D("6600.25")
    assert detail.cdr is not None and detail.cdr.total_energy_wh == D("6600.25")


def test_an_absurd_meter_stop_is_held_and_resolved_with_an_audit_row(
    db: Database, service: SessionService, settings: Settings
) -> None:
    tx = service.start(start_cmd()).transaction_id
    service.stop(stop_cmd(tx, stopped_at=at(1), meter_stop_wh=D(2147483647)))
    detail = service.find_session(STATION, tx)
    assert detail is not None and detail.session.state == "held" and detail.cdr is None
    assert "implausible_reading" in detail.session.flags
    assert detail.session.hold_reason and "maximum 400 kW" in detail.session.hold_reason
    review = SessionReview(db, settings, clock=lambda: T0 + timedelta(days=1))
    with pytest.raises(ReviewError, match="reason"):
        review.resolve(int(detail.session.session_id), actor="ops", reason=" ")
    with pytest.raises(ReviewError, match="below the session's meterStart"):
        review.resolve(int(detail.session.session_id), actor="ops", reason="typo",
                       meter_stop_wh=D(5))
    out = review.resolve(int(detail.session.session_id), actor="ops@example.org",
                         reason="meter replaced; reading from the display",
                         meter_stop_wh=kwh("100.5"))  # fmt: skip
    assert (out.state_before, out.state_after) == ("held", "rated")
    with db.read_sessions() as s:
        cdr = s.scalars(select(CdrRow)).one()
        audit = s.scalars(select(SessionReviewRow)).one()
    assert cdr.total_energy_wh == D(500) and cdr.total_cost_excl_vat == D("0.15")
    assert (audit.action, audit.actor, audit.state_before, audit.state_after) == (
        "correct", "ops@example.org", "held", "rated")
    assert audit.detail["meter_stop_before"] == "2147483647"
    assert audit.detail["meter_stop_after"] == "100500.0"
    shown = review.show(int(detail.session.session_id))
    assert shown.released_by == "ops@example.org" and len(shown.reviews) == 1


def test_a_register_reset_is_held_then_corrected(db: Database, service: SessionService,
                                                 settings: Settings) -> None:
    tx = service.start(start_cmd(meter_start_wh=D(5000))).transaction_id
    service.meter_values(RecordMeterValues(STATION, 1, tx, (
        MeterReading(at(10), D(6000)), MeterReading(at(20), D(7000)),
        MeterReading(at(30), D(15)), MeterReading(at(40), D(1015)))))  # fmt: skip
    service.stop(stop_cmd(tx, stopped_at=at(40), meter_stop_wh=D(1015)))
    row = _row(db, tx)
    assert row.state == "held" and "register fell from 7000 Wh to 15 Wh" in (row.hold_reason or "")
    review = SessionReview(db, settings, clock=lambda: T0 + timedelta(days=1))
    # the operator reads 3000 Wh charged: 2000 before the reset, 1000 after
    review.resolve(row.id, actor="ops", reason="register reset at 00:30",
                   meter_stop_wh=D(8000))
    row = _row(db, tx)
    assert row.state == "rated" and row.energy_wh == D(3000)


def test_a_meter_running_backwards_is_never_billed(db: Database, service: SessionService) -> None:
    tx = service.start(start_cmd(meter_start_wh=kwh("100"))).transaction_id
    service.stop(stop_cmd(tx, stopped_at=at(30), meter_stop_wh=kwh("90")))
    row = _row(db, tx)
    assert row.state == "held" and "register fell" in (row.hold_reason or "")
    with db.read_sessions() as s:
        assert s.scalars(select(CdrRow)).first() is None


def test_refused_starts_are_kept_but_never_billed(db: Database, service: SessionService) -> None:
    blocked = service.start(start_cmd(id_token=IdToken("DEADBEEF"))).transaction_id
    assert service.start(start_cmd(id_token=IdToken("DEADBEEF"))).authorization.status == \
        "Unknown"
    unknown_connector = service.start(start_cmd(evse_id=99, started_at=at(1)))
    assert unknown_connector.authorization.status == "Invalid"
    assert unknown_connector.authorization.reason == "unknown connector 99"
    for tx in (blocked, unknown_connector.transaction_id):
        service.stop(stop_cmd(tx))
        row = _row(db, tx)
        assert row.state == "refused" and row.energy_wh == kwh("10")  # recorded, not billed
    with db.read_sessions() as s:
        assert s.scalars(select(CdrRow)).first() is None


def test_a_stop_for_another_stations_transaction_changes_nothing(
    db: Database, service: SessionService
) -> None:
    from evbill.accounts.stations import StationRegistry

    StationRegistry(db).add("CS-OTHER", time_zone="Europe/Berlin", now=T0, evses=1)
    tx = service.start(start_cmd()).transaction_id
    before = _row(db, tx)
    result = service.stop(stop_cmd(tx, station_id="CS-OTHER", meter_stop_wh=kwh("999")))
    assert result.transaction_id == tx
    service.meter_values(RecordMeterValues("CS-OTHER", 1, tx, (energy(5, "500"),)))
    with db.read_sessions() as s:
        rows = s.scalars(select(SessionRow)).all()
    assert len(rows) == 1 and rows[0].station_id == STATION
    assert rows[0].state == before.state and rows[0].meter_stop_wh is None


def test_open_sessions_silent_too_long_are_flagged(db: Database, service: SessionService) -> None:
    from evbill.sessions.silence import flag_silent_sessions

    quiet = service.start(start_cmd()).transaction_id
    now = T0 + timedelta(days=1)  # the service clock: the start was received then
    assert flag_silent_sessions(db, now + timedelta(hours=1), timedelta(hours=2)) == []
    [flagged] = flag_silent_sessions(db, now + timedelta(hours=3), timedelta(hours=2))
    assert flagged == _row(db, quiet).id and "silent" in _row(db, quiet).flags
    assert flag_silent_sessions(db, now + timedelta(hours=4), timedelta(hours=2)) == []


def test_the_evses_own_maximum_power_holds_what_the_setting_would_rate(
    db: Database, service: SessionService, settings: Settings
) -> None:
    from evbill.accounts.stations import StationRegistry, power_w

    assert settings.evse_max_power_kw == D(400)
    StationRegistry(db).add("CS-11KW", time_zone="Europe/Berlin", now=T0, evses=1,
                            max_power_w=power_w("11"))
    # 30 kWh in one hour: fine for 400 kW, three times what an 11 kW EVSE can deliver
    for station_id in ("CS-11KW", STATION):  # STATION's EVSEs have no registered maximum
        tx = service.start(start_cmd(station_id=station_id)).transaction_id
        service.stop(stop_cmd(tx, station_id=station_id, stopped_at=at(60),
                              meter_stop_wh=kwh("130")))
    small = _only(db, "CS-11KW")
    assert small.state == "held" and small.hold_reason is not None
    assert "more than the EVSE's maximum 11 kW allows" in small.hold_reason
    assert "12101 Wh" in small.hold_reason  # 11 kW × 1 h + 10 % tolerance + 1 Wh
    assert _only(db, STATION).state == "rated"


def _only(db: Database, station_id: str) -> SessionRow:
    with db.read_sessions() as s:
        return s.scalars(select(SessionRow).where(SessionRow.station_id == station_id)).one()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # one backend suffices
def test_stations_add_registers_each_evses_maximum_power(
    db: Database, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    from typer.testing import CliRunner

    from evbill.cli import app
    from evbill.config import get_settings
    from evbill.store.tables import EvseRow

    monkeypatch.setenv("EVBILL_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        ok = runner.invoke(app, ["stations", "add", "CS-AC", "--tz", "Europe/Berlin",
                                 "--evses", "2", "--max-power-kw", "7.4"])
        plain = runner.invoke(app, ["stations", "add", "CS-PLAIN", "--tz", "Europe/Berlin"])
        bad = [runner.invoke(app, ["stations", "add", "CS-BAD", "--max-power-kw", value])
               for value in ("0", "eleven", "5000", "7.4001")]
    finally:
        get_settings.cache_clear()
    assert ok.exit_code == 0 and plain.exit_code == 0, ok.output + plain.output
    for result in bad:
        assert result.exit_code == 2 and "max_power_kw" in result.output, result.output
    with db.read_sessions() as s:
        evses = s.execute(select(EvseRow.station_id, EvseRow.evse_id, EvseRow.max_power_w)
                          .order_by(EvseRow.station_id, EvseRow.evse_id)).all()
    assert [tuple(e) for e in evses] == [("CS-AC", 1, 7400), ("CS-AC", 2, 7400),
                                         ("CS-PLAIN", 1, None)]
