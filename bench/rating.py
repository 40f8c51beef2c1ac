"""Rating throughput: sessions priced per second on one core, CDR path and timeline path.

    .venv/bin/python bench/rating.py                    # 100,000 sessions per path
    .venv/bin/python bench/rating.py --sessions 20000   # a quick run

The corpus is generated up front (not timed) from a fixed seed over a mix of realistic tariffs
(the example tariffs plus a time-of-use and a tiered tariff): CDRs as a partner sends them
(decoded JSON, numbers as Decimal) and meter timelines (a sample every 5 minutes while charging).

What is timed, per session: `rate_cdr(tariff, tz, cdr_mapping)` on an already decoded CDR
mapping (reading and validating every period and dimension, local time, selection, step_size,
VAT, min/max price, building the `PricedCdr` with its periods and lines), or
`rate_timeline(tariff, tz, samples)` on `MeterSample`s. Not timed: JSON decoding, corpus
generation, `to_ocpi()`/serialisation. Tariffs are the same objects throughout (as in a
service), so each is compiled once. Each path runs `--repeats` times with the garbage collector
off; the best run is reported both as CPU time of this process (`time.process_time`, the
figure for "one core" on a shared machine) and as wall-clock time.
"""

from __future__ import annotations

import argparse
import gc
import random
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from evbill.rating import MeterSample, rate_cdr, rate_timeline
from evbill.tariffs import Tariff, parse_tariff, parse_tariff_json

ROOT = Path(__file__).resolve().parents[1]
D = Decimal


def tariffs() -> list[tuple[Tariff, str, Decimal]]:
    """(tariff, time zone, typical charging power in kW)."""
    ex = ROOT / "examples" / "tariffs"
    load = lambda name: parse_tariff_json((ex / name).read_text())  # noqa: E731
    tou = parse_tariff({
        "country_code": "NL", "party_id": "EVB", "id": "TOU", "currency": "EUR",
        "elements": [
            {"price_components": [{"type": "ENERGY", "price": D("0.45"), "vat": D(21),
                                   "step_size": 1}],
             "restrictions": {"start_time": "07:00", "end_time": "23:00",
                              "day_of_week": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY",
                                              "FRIDAY"]}},
            {"price_components": [{"type": "ENERGY", "price": D("0.29"), "vat": D(21),
                                   "step_size": 1}]},
            {"price_components": [{"type": "PARKING_TIME", "price": D("1.20"), "vat": D(21),
                                   "step_size": 900}]},
        ],
        "last_updated": "2024-01-01T00:00:00Z"})
    tiered = parse_tariff({
        "country_code": "GB", "party_id": "EVB", "id": "TIERED", "currency": "GBP",
        "elements": [
            {"price_components": [{"type": "FLAT", "price": D("0.99"), "vat": D(20),
                                   "step_size": 1}]},
            {"price_components": [{"type": "ENERGY", "price": D("0.59"), "vat": D(20),
                                   "step_size": 100}], "restrictions": {"max_kwh": D(20)}},
            {"price_components": [{"type": "ENERGY", "price": D("0.49"), "vat": D(20),
                                   "step_size": 100}]},
        ],
        "min_price": {"excl_vat": D("2.00"), "incl_vat": D("2.40")},
        "last_updated": "2024-01-01T00:00:00Z"})
    return [
        (load("ac_standard.json"), "Europe/Berlin", D(11)),
        (load("dc_fast.json"), "Europe/Berlin", D(90)),
        (load("us_time_based.json"), "America/New_York", D("7.2")),
        (load("reservable.json"), "Europe/Amsterdam", D(11)),
        (tou, "Europe/Amsterdam", D(11)),
        (tiered, "Europe/London", D(50)),
    ]


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def session(rng: random.Random, kw: Decimal) -> tuple[datetime, list[tuple[int, Decimal, bool]]]:
    """A start and parts (seconds, kW, charging): 1–3 charging stretches, maybe parking."""
    start = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(366 * 24 * 60))
    parts = []
    for _ in range(rng.randint(1, 3)):
        power = (kw * D(rng.randint(40, 100)) / 100).quantize(D("0.1"))
        parts.append((rng.randint(10, 90) * 60, power, True))
    if rng.random() < 0.5:
        parts.append((rng.randint(5, 180) * 60, D(0), False))
    return start, parts


def as_cdr(tariff: Tariff, start: datetime,
           parts: list[tuple[int, Decimal, bool]]) -> dict[str, Any]:
    periods, at = [], start
    for seconds, kw, charging in parts:
        hours = (D(seconds) / 3600).quantize(D("0.0001"))
        dims = ([{"type": "ENERGY", "volume": (kw * hours).quantize(D("0.001"))},
                 {"type": "TIME", "volume": hours},
                 {"type": "MAX_POWER", "volume": kw}, {"type": "MIN_POWER", "volume": kw}]
                if charging else [{"type": "PARKING_TIME", "volume": hours}])
        periods.append({"start_date_time": _iso(at), "dimensions": dims})
        at += timedelta(seconds=seconds)
    return {"country_code": tariff.country_code, "party_id": tariff.party_id, "id": "CDR",
            "start_date_time": _iso(start), "end_date_time": _iso(at),
            "currency": tariff.currency, "charging_periods": periods}


def as_timeline(start: datetime, parts: list[tuple[int, Decimal, bool]]) -> list[MeterSample]:
    samples, at, energy = [], start, D(0)
    for seconds, kw, charging in parts:
        step = 300 if charging else seconds
        for offset in range(0, seconds, step):
            length = min(step, seconds - offset)
            samples.append(MeterSample(at, energy, kw * 1000, None, charging))
            at += timedelta(seconds=length)
            energy += kw * length / D("3.6")
    samples.append(MeterSample(at, energy, D(0), None, False))
    return samples


def corpus(n: int, seed: int = 2024) -> tuple[list[tuple[Tariff, str, Any]],
                                               list[tuple[Tariff, str, Any]]]:
    rng, mix = random.Random(seed), tariffs()
    cdrs, timelines = [], []
    for i in range(n):
        tariff, tz, kw = mix[i % len(mix)]
        start, parts = session(rng, kw)
        cdrs.append((tariff, tz, as_cdr(tariff, start, parts)))
        timelines.append((tariff, tz, as_timeline(start, parts)))
    return cdrs, timelines


def measure(label: str, fn: Callable[[Tariff, str, Any], Any],
            work: Sequence[tuple[Tariff, str, Any]], repeats: int) -> float:
    best_cpu = best_wall = float("inf")
    for _ in range(repeats):
        gc.collect()
        gc.disable()
        cpu, wall = time.process_time(), time.perf_counter()
        for tariff, tz, item in work:
            fn(tariff, tz, item)
        best_cpu = min(best_cpu, time.process_time() - cpu)
        best_wall = min(best_wall, time.perf_counter() - wall)
        gc.enable()
    rate = len(work) / best_cpu
    print(f"{label:<14} {len(work):>8} sessions  cpu {best_cpu:7.2f} s  {rate:>9,.0f} sessions/s"
          f"  {best_cpu / len(work) * 1e6:7.1f} µs/session  |  wall {best_wall:7.2f} s "
          f"{len(work) / best_wall:>9,.0f} sessions/s")
    return rate


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3, help="best of N runs (default 3)")
    parser.add_argument("--timeline-sessions", type=int, default=None,
                        help="timeline path corpus size (default: --sessions)")
    args = parser.parse_args(argv)
    cdrs, timelines = corpus(args.sessions)
    periods = sum(len(c["charging_periods"]) for _, _, c in cdrs) / len(cdrs)
    samples = sum(len(t) for _, _, t in timelines) / len(timelines)
    print(f"corpus: {args.sessions} sessions over {len(tariffs())} tariffs; "
          f"{periods:.1f} periods per CDR, {samples:.1f} samples per timeline; one core")
    measure("CDR path", rate_cdr, cdrs, args.repeats)
    n = args.timeline_sessions or args.sessions
    measure("timeline path", rate_timeline, timelines[:n], args.repeats)


if __name__ == "__main__":
    main()
