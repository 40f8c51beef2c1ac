"""The timeline path cuts periods exactly where a restriction can change: local time (DST too),
dates, kWh thresholds (interpolated), durations, power bands, charging → parking."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from evbill.rating import MeterSample, RatingError, rate_timeline

from .builders import D, Part, both, comp, element, money, tariff, timeline


def window(**restrictions: object) -> object:
    """Energy at 1.00/kWh inside the restriction, free outside."""
    return tariff(element(comp("ENERGY", "1.00"), **restrictions), element(comp("ENERGY", "0")))


def test_time_window_cut_inside_a_sample_interval() -> None:
    t = window(start_time="08:00", end_time="18:00")
    r = both(t, "Europe/Berlin", timeline("2024-06-10T07:30", "Europe/Berlin", Part(60, 10)))
    assert money(r)[0] == 5  # 07:30–08:00 free, 08:00–08:30 at 1.00
    assert [p.start.astimezone(UTC).strftime("%H:%M") for p in r.periods] == ["05:30", "06:00"]


def test_window_across_midnight_over_a_night() -> None:
    t = window(start_time="22:00", end_time="06:00")
    r = both(t, "Europe/Berlin", timeline("2024-06-10T21:00", "Europe/Berlin", Part(600, 1)))
    assert money(r)[0] == 8
    assert len(r.periods) == 3


@pytest.mark.parametrize(("tz", "start", "minutes", "restriction", "in_window", "hours"), [
    # Berlin spring forward 2024-03-31 02:00 → 03:00: wall clock 02:30–04:00 is 03:00–04:00.
    ("Europe/Berlin", "2024-03-31T01:00", 180, ("02:30", "04:00"), 1, 3),
    # Berlin fall back 2024-10-27 03:00 → 02:00: the 02:00–03:00 hour happens twice.
    ("Europe/Berlin", "2024-10-27T01:00", 240, ("02:00", "03:00"), 2, 4),
    # New York spring forward 2024-03-10 02:00 → 03:00: 02:00–03:00 never happens.
    ("America/New_York", "2024-03-10T00:30", 180, ("02:00", "03:00"), 0, 3),
    # New York fall back 2024-11-03 02:00 → 01:00: 01:00–02:00 happens twice.
    ("America/New_York", "2024-11-03T00:30", 180, ("01:00", "02:00"), 2, 3),
])
def test_dst_changes(tz: str, start: str, minutes: int, restriction: tuple[str, str],
                     in_window: int, hours: int) -> None:
    t = window(start_time=restriction[0], end_time=restriction[1])
    r = both(t, tz, timeline(start, tz, Part(minutes, 1)))
    assert money(r)[0] == in_window  # 1 kW: kWh in the window = real hours in it
    assert r.total_time == hours  # durations are real elapsed time
    assert r.total_energy == hours


def test_day_of_week_cut_at_local_midnight() -> None:
    t = window(day_of_week=["SATURDAY"])
    r = both(t, "Europe/Berlin", timeline("2024-06-14T22:00", "Europe/Berlin", Part(240, 1)))
    assert money(r)[0] == 2  # Friday 22:00 → Saturday 02:00: two hours on Saturday


def test_session_spanning_several_days_with_daily_tariffs() -> None:
    t = tariff(element(comp("PARKING_TIME", "2.00"), start_time="08:00", end_time="20:00",
                       day_of_week=["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]),
               element(comp("PARKING_TIME", "0.50")),
               element(comp("ENERGY", "0.40"), end_date="2024-06-08"),
               element(comp("ENERGY", "0.45")))
    # Thursday 2024-06-06 18:00 → Monday 2024-06-10 10:00: 2 h charging at 5 kW, then parked
    r = both(t, "Europe/Berlin", timeline("2024-06-06T18:00", "Europe/Berlin", Part(120, 5),
                                          Part(86 * 60)))
    # parking: Thu 20–24 (4 h cheap), Fri 0–8 cheap, 8–20 dear, 20–24 cheap, Sat+Sun 48 h cheap,
    # Mon 0–8 cheap, 8–10 dear → 14 h × 2.00 + 72 h × 0.50; energy 10 kWh × 0.40
    assert money(r)[0] == D(14) * 2 + D(72) * D("0.5") + D(4)
    assert r.total_parking_time == 86


def test_kwh_threshold_is_interpolated_between_two_samples() -> None:
    t = window(min_kwh="5")
    r = both(t, "UTC", timeline("2024-06-10T10:00", "UTC", Part(60, 7)))
    assert money(r)[0] == 2
    cut = r.periods[1].start - r.periods[0].start
    assert cut.total_seconds() == pytest.approx(5 / 7 * 3600, abs=1e-6)
    assert r.periods[0].dimensions[0] == ("ENERGY", D(5))


def test_duration_threshold_cut() -> None:
    t = window(max_duration=1800)
    r = both(t, "UTC", timeline("2024-06-10T10:00", "UTC", Part(60, 6)))
    assert money(r)[0] == 3


def test_power_band_follows_the_samples() -> None:
    t = tariff(element(comp("ENERGY", "0.20"), max_power="16"),
               element(comp("ENERGY", "0.50")))
    r = both(t, "UTC", timeline("2024-06-10T10:00", "UTC", Part(30, 11), Part(30, 50),
                                Part(30, 11)))
    assert money(r)[0] == D("5.5") * D("0.20") + 25 * D("0.50") + D("5.5") * D("0.20")
    assert len(r.periods) == 3


def test_power_derived_from_energy_when_not_reported() -> None:
    t = tariff(element(comp("ENERGY", "0.20"), max_power="16"),
               element(comp("ENERGY", "0.50")))
    r = both(t, "UTC", timeline("2024-06-10T10:00", "UTC", Part(30, 11), Part(30, 50),
                                derive_power=True))
    assert money(r)[0] == D("5.5") * D("0.20") + 25 * D("0.50")


def test_charging_to_parking_switch_and_merging_of_identical_periods() -> None:
    t = tariff(element(comp("ENERGY", "0.30"), comp("PARKING_TIME", "1.00")))
    samples = timeline("2024-06-10T10:00", "UTC", *[Part(1, 11)] * 90, Part(30))
    r = both(t, "UTC", samples)
    assert len(r.periods) == 2  # 90 one-minute samples become one charging period
    assert [d[0] for d in r.periods[1].dimensions][:2] == ["ENERGY", "PARKING_TIME"]
    assert money(r)[0] == D("16.5") * D("0.30") + D("0.5")


@pytest.mark.parametrize(("samples", "message"), [
    ([], "at least two samples"),
    ([MeterSample(datetime(2024, 1, 1, 10), D(0)), MeterSample(datetime(2024, 1, 1, 11), D(1))],
     r"samples\[0\].at: must be timezone-aware"),
    ([MeterSample(datetime(2024, 1, 1, 10, tzinfo=UTC), D(5)),
      MeterSample(datetime(2024, 1, 1, 11, tzinfo=UTC), D(4))],
     r"samples\[1\].energy_wh: the energy register went backwards"),
    ([MeterSample(datetime(2024, 1, 1, 10, tzinfo=UTC), D(5)),
      MeterSample(datetime(2024, 1, 1, 10, tzinfo=UTC), D(6))],
     r"samples\[1\].at: not after the previous sample"),
    ([MeterSample(datetime(2024, 1, 1, 10, tzinfo=UTC), 5.0),  # type: ignore[arg-type]
      MeterSample(datetime(2024, 1, 1, 11, tzinfo=UTC), D(6))],
     r"samples\[0\].energy_wh: 5.0 is not a finite Decimal"),
])
def test_broken_timelines_are_refused(samples: list[MeterSample], message: str) -> None:
    with pytest.raises(RatingError, match=message):
        rate_timeline(window(), "UTC", samples)  # type: ignore[arg-type]


def test_energy_during_a_reservation_is_refused() -> None:
    samples = timeline("2024-06-10T10:00", "UTC", Part(10, 5, charging=False), Part(10, 5))
    with pytest.raises(RatingError, match="energy flowed during the reservation"):
        rate_timeline(window(), "UTC", samples, reservation=True)


def test_cdr_id_and_output_fields() -> None:
    t = tariff(element(comp("FLAT", "1.00", 1, "19"), comp("ENERGY", "0.25", 1, "19")))
    r = rate_timeline(t, "UTC", timeline("2024-06-10T10:00", "UTC", Part(60, 11), Part(15)),
                      cdr_id="S-1")
    out = r.to_ocpi()
    assert out["id"] == "S-1"
    assert out["total_cost"] == {"excl_vat": D("3.7500"), "incl_vat": D("4.4625")}
    assert out["total_energy"] == D("11.0000") and out["total_time"] == D("1.2500")
    assert out["total_parking_time"] == D("0.2500")
    assert out["total_fixed_cost"]["excl_vat"] == 1
    assert "total_reservation_cost" not in out
    assert out["charging_periods"][0]["tariff_id"] == "T1"
    assert out["tariffs"][0]["id"] == "T1"
    assert isinstance(out["total_energy"], Decimal)
