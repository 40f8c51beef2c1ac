"""`evbill demo`: price the example sessions with the example tariffs, then run the gateway on
a fresh embedded database with a simulated fleet and the whole money path, and show what was
recorded, paid, documented and booked.

`pricing_demo()` is the pricing part; `live_demo()` the server, the simulated stations and the
money tour (`evbill.sim.showcase`); `money_report()` (in `demo_money`) prints its summary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from evbill.cli.app import app, fail

if TYPE_CHECKING:
    from evbill.rating import PricedCdr
    from evbill.sim.showcase import ShowcaseResult

#: The repository's examples/ folder (src layout: src/evbill/cli/demo.py → repo root).
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@dataclass(frozen=True, slots=True)
class DemoCase:
    session: str  # file in examples/sessions
    tariff: str  # file in examples/tariffs
    tz: str
    label: str


CASES: tuple[DemoCase, ...] = (
    DemoCase("evening_cdr.json", "ac_standard.json", "Europe/Berlin", "AC evening, roaming CDR"),
    DemoCase("workplace_day_timeline.json", "ac_standard.json", "Europe/Berlin",
             "AC workplace, idle fee"),
    DemoCase("overnight_dst_timeline.json", "ac_standard.json", "Europe/Berlin",
             "AC overnight across DST end"),
    DemoCase("dc_timeline.json", "dc_fast.json", "Europe/Berlin", "DC fast, power tiers"),
    DemoCase("reserved_timeline.json", "reservable.json", "Europe/Amsterdam",
             "Reserved, then charged"),
    DemoCase("us_afternoon_cdr.json", "us_time_based.json", "America/New_York",
             "US time-based, idle fee"),
)


@dataclass(frozen=True, slots=True)
class DemoResult:
    case: DemoCase
    cdr: PricedCdr


def pricing_demo(examples: Path = EXAMPLES,
                 cases: Sequence[DemoCase] = CASES) -> list[DemoResult]:
    """Price every demo case (raises TariffError/RatingError/OSError on a broken example)."""
    from evbill.cli.rate import price_session
    from evbill.tariffs import loads, parse_tariff_json

    results = []
    for case in cases:
        tariff = parse_tariff_json((examples / "tariffs" / case.tariff).read_text("utf-8"))
        session = loads((examples / "sessions" / case.session).read_text("utf-8"))
        results.append(DemoResult(case, price_session(tariff, case.tz, session)))
    return results


def demo_table(results: Sequence[DemoResult]) -> Table:
    """One row per session: energy, time, and the per-line rounded totals a receipt shows."""
    table = Table(title="evbill pricing demo (OCPI 2.2.1 tariffs)", show_lines=False)
    for column in ("Session", "Tariff", "kWh", "Hours", "Lines", "Excl. VAT", "Incl. VAT"):
        table.add_column(column, justify="right" if column not in ("Session", "Tariff",
                                                                   "Lines") else "left")
    for r in results:
        doc = r.cdr.document_total
        lines = ", ".join(f"{line.kind.value} {line.rounded().incl_vat.amount}"
                          for line in r.cdr.lines)
        table.add_row(r.case.label, r.cdr.tariff.id, f"{r.cdr.total_energy:.2f}",
                      f"{r.cdr.total_time:.2f}", lines, str(doc.excl_vat), str(doc.incl_vat))
    return table


def _live_tables(result: ShowcaseResult) -> tuple[Table, str]:
    """Per-station totals of what evbill recorded, and a plain-words explanation."""
    table = Table(title="What evbill recorded and billed, live over OCPP", box=box.SIMPLE_HEAD)
    for column in ("Station", "OCPP", "Kind", "Sessions", "Rated", "kWh", "Excl. VAT",
                   "Incl. VAT"):
        table.add_column(column, justify="left" if column in ("Station", "OCPP", "Kind")
                         else "right")
    for st in result.stations:
        table.add_row(st.station_id, st.protocol, st.charger, str(st.sessions), str(st.rated),
                      f"{st.energy_wh / 1000:,.3f}", f"{st.total_excl_vat:.2f}",
                      f"{st.total_incl_vat:.2f}")
    currency = result.stations[0].currency if result.stations else "EUR"
    table.add_section()
    table.add_row("total", "", "", str(sum(st.sessions for st in result.stations)),
                  str(sum(st.rated for st in result.stations)),
                  f"{sum(st.energy_wh for st in result.stations) / 1000:,.3f}",
                  f"{sum(st.total_excl_vat for st in result.stations):.2f} {currency}",
                  f"{sum(st.total_incl_vat for st in result.stations):.2f} {currency}")
    tariffs = sorted({f"{st.charger} stations: {st.tariff}" for st in result.stations})
    report = result.report
    explanation = (
        f"{report.stations_connected} simulated charging stations connected to the evbill "
        f"gateway at {result.gateway_url} (OCPP 1.6J, 2.0.1 and 2.1, HTTP Basic auth) and "
        f"ran {report.sessions_completed} charging sessions with OCMF-signed meter readings; "
        f"{report.stats.queued_offline} messages were delivered late after simulated network "
        f"outages. evbill stored every session, checked the meter signatures and priced it "
        f"with the station's OCPI tariff ({'; '.join(tariffs)}). "
        f"{report.stats.acknowledged} of {report.stats.sent} OCPP messages were acknowledged. "
        f"The database is {result.data_dir}/."
    )
    return table, explanation


def live_demo(examples: Path, data_dir: Path, console: Console) -> ShowcaseResult:
    """Start the gateway on a fresh SQLite database, run the fleet and the money tour, print
    what was recorded, paid, documented and booked."""
    import asyncio

    from evbill.cli.demo_money import money_report
    from evbill.cli.simulate import run_with_progress
    from evbill.sim.showcase import run_showcase

    result = asyncio.run(run_showcase(data_dir, examples, run_with_progress))
    table, explanation = _live_tables(result)
    console.print(table)
    console.print(explanation, highlight=False)
    for station_id, session_id, flags in result.flagged:
        console.print(f"  not billed: {station_id} session {session_id}: {', '.join(flags)}",
                      highlight=False)
    money_report(result, console)
    return result


@app.command()
def demo(
    examples: Annotated[Path, typer.Option(help="folder with tariffs/ and sessions/")] = EXAMPLES,
    live: Annotated[bool, typer.Option(help="also run the gateway and a simulated fleet")] = True,
    data_dir: Annotated[Path, typer.Option(help="fresh data folder for the live part")] = (
        Path("data/demo")),
) -> None:
    """Price the example sessions, then charge, pay, document and book a simulated fleet live
    over OCPP (ad hoc card, wallet, postpaid month, refund; ledger root and proof)."""
    from evbill.rating import RatingError
    from evbill.sim.money_tour import TourError
    from evbill.tariffs import TariffError

    try:
        results = pricing_demo(examples)
    except (OSError, TariffError, RatingError, ValueError) as err:
        raise fail(f"demo examples in {examples}: {err}") from None
    out = Console()
    out.print(demo_table(results))
    if live:
        from evbill.cli.demo_money import money_problems

        try:
            result = live_demo(examples, data_dir, out)
        except TourError as err:
            raise fail(f"live demo: {err}", code=1) from None
        if result.report.sessions_completed == 0:
            raise fail("live demo: no session completed", code=1)
        problems = money_problems(result)
        if problems:
            raise fail(f"live demo: {'; '.join(problems)}", code=1)
