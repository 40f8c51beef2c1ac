"""`evbill demo`: price the example sessions with the example tariffs and show a table.

`pricing_demo()` is the reusable part: the full demo (server, simulated stations) calls it too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from evbill.cli.app import app, fail
from evbill.cli.rate import price_session
from evbill.rating import PricedCdr, RatingError
from evbill.tariffs import TariffError, loads, parse_tariff_json

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


@app.command()
def demo(
    examples: Annotated[Path, typer.Option(help="folder with tariffs/ and sessions/")] = EXAMPLES,
) -> None:
    """Price the example sessions with the example tariffs and print a table."""
    try:
        results = pricing_demo(examples)
    except (OSError, TariffError, RatingError, ValueError) as err:
        raise fail(f"demo examples in {examples}: {err}") from None
    Console().print(demo_table(results))
