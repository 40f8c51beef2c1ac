"""`evbill simulate`: run a fleet of simulated stations against a running evbill server."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from evbill.cli.app import app, console, fail

if TYPE_CHECKING:
    from evbill.sim.fleet import FleetConfig, FleetReport

_ALL = "all"


def protocols_for(choice: str) -> tuple[str, ...]:
    """"1.6", "2.0.1", "2.1" or "all" (round robin over the three)."""
    from evbill.sim.dialects import DIALECTS

    if choice == _ALL:
        return tuple(DIALECTS)
    if choice not in DIALECTS:
        raise fail(f"--protocol: {choice!r} is not one of 1.6, 2.0.1, 2.1, all")
    return (choice,)


def summary_table(report: FleetReport) -> Table:
    """The run in one table: sessions, energy, messages."""
    table = Table(title="Simulation summary", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("what")
    table.add_column("value", justify="right")
    stats = report.stats
    rows = [
        ("stations connected", f"{report.stations_connected}"),
        ("stations refused", f"{report.stations_failed}"),
        ("sessions completed", f"{report.sessions_completed} of {report.sessions_planned}"),
        ("sessions refused (token)", f"{report.sessions_refused}"),
        ("energy delivered", f"{Decimal(report.energy_wh) / 1000:,.3f} kWh"),
        ("messages sent", f"{stats.sent}"),
        ("messages acknowledged", f"{stats.acknowledged}"),
        ("CALL errors", f"{stats.call_errors}"),
        ("queued while offline", f"{stats.queued_offline}"),
        ("reconnects", f"{stats.reconnects}"),
        ("still undelivered", f"{report.undelivered}"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


async def run_with_progress(config: FleetConfig) -> FleetReport:
    """Run the fleet under a rich progress bar on stderr."""
    from evbill.sim.fleet import run_fleet

    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[detail]}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("sessions", total=config.sessions, detail="connecting…")

        def update(report: FleetReport) -> None:
            done = report.sessions_completed + report.sessions_refused
            detail = (f"{Decimal(report.energy_wh) / 1000:,.1f} kWh · "
                      f"{report.stats.acknowledged}/{report.stats.sent} msgs acked")
            progress.update(task, completed=done, detail=detail)

        return await run_fleet(config, update)


@app.command()
def simulate(
    stations: Annotated[int, typer.Option(min=1, help="number of simulated stations")] = 10,
    sessions: Annotated[int, typer.Option(min=0, help="charging sessions in total")] = 20,
    protocol: Annotated[str, typer.Option(help="1.6, 2.0.1, 2.1 or all")] = "1.6",
    url: Annotated[str, typer.Option(help="CSMS base URL (station id is appended)")] = (
        "ws://127.0.0.1:9000/ocpp"),
    signed: Annotated[bool, typer.Option(help="sign begin/end readings (OCMF)")] = False,
    offline_rate: Annotated[float, typer.Option(
        min=0.0, max=1.0, help="share of sessions that go offline in the middle")] = 0.0,
    password: Annotated[str | None, typer.Option(
        envvar="EVBILL_SIM_PASSWORD", help="stations' Basic-auth password")] = None,
    prefix: Annotated[str, typer.Option(help="station ids are PREFIX-0001 …")] = "SIM",
    id_tag: Annotated[list[str] | None, typer.Option(help="token(s) drivers present")] = None,
    meter_interval: Annotated[int, typer.Option(min=1, help="seconds between samples")] = 300,
    seed: Annotated[int, typer.Option(help="random seed (cars, durations)")] = 1,
    decimal_wh: Annotated[bool, typer.Option(
        help="samples in decimal Wh (66.25) while meterStop stays whole Wh, as much "
             "firmware does")] = False,
) -> None:
    """Run simulated stations against a running server and print what they did."""
    import asyncio

    from evbill.sim.fleet import FleetConfig

    try:
        config = FleetConfig(
            url=url, stations=stations, sessions=sessions, protocols=protocols_for(protocol),
            signed=signed, offline_rate=offline_rate, password=password, station_prefix=prefix,
            id_tags=tuple(id_tag or ("SIM-TAG-0001",)), meter_interval_s=meter_interval,
            seed=seed, decimal_wh=decimal_wh,
        )
    except ValueError as exc:
        raise fail(str(exc)) from None
    report = asyncio.run(run_with_progress(config))
    console.print(summary_table(report))
    if report.stations_connected == 0:
        raise fail(f"no station could connect to {url}", code=1)
