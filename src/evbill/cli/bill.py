"""`evbill bill --period 2026-10`: issue the month's invoices for every postpaid account.

Interrupt it and run it again: done accounts stay done, the rest are billed. Start several at
once on PostgreSQL and they share the accounts (SELECT … FOR UPDATE SKIP LOCKED). PDFs are
rendered after the invoices are issued, in bulk, in a process per core (`--pdf-workers`).
"""

from __future__ import annotations

import os
import socket
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from evbill.cli.app import app, fail
from evbill.cli.app import console as err_console
from evbill.cli.invoice import DatabaseOption, invoicing_service


@app.command("bill")
def bill(
    period: Annotated[str, typer.Option("--period", help="Month to bill, as YYYY-MM.")],
    pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="Render and store PDFs.")] = True,
    pdf_workers: Annotated[int, typer.Option(
        "--pdf-workers", help="Processes rendering PDFs after the run (0: one per core).")] = 0,
    database: DatabaseOption = None,
) -> None:
    """Issue one invoice per postpaid account and currency for PERIOD (resumable, shareable)."""
    from evbill.clock import utc_now
    from evbill.invoicing.billing_run import invoices_without_pdf, prepare_run, run_status, work
    from evbill.invoicing.compose import BillingPeriod
    from evbill.invoicing.model import DocumentError
    from evbill.invoicing.pdf_batch import render_pdfs
    from evbill.invoicing.settings import IssuerNotConfigured, check_issuer, get_invoicing_settings

    try:
        month = BillingPeriod.parse(period)
        check_issuer(get_invoicing_settings())
    except (DocumentError, IssuerNotConfigured) as exc:
        raise fail(str(exc)) from None
    worker = f"{socket.gethostname()}:{os.getpid()}"
    with invoicing_service(database) as service:
        prepare_run(service, month, now=utc_now())
        status = run_status(service, month)
        columns = (TextColumn(f"billing {month}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[last]}"), TimeElapsedColumn(), TimeRemainingColumn())
        with Progress(*columns, console=err_console) as progress:
            task = progress.add_task("bill", total=status.items, completed=status.done
                                     + status.failed, last="")  # fmt: skip

            def advance(number: str | None) -> None:
                progress.update(task, advance=1, last=number or "")

            report = work(service, month, worker=worker, now=utc_now, pdf=False, progress=advance)
            if pdf:
                numbers = invoices_without_pdf(service, month)
                rendering = progress.add_task("pdf", total=len(numbers), last="PDF/A-3")
                url = service.db.engine.url.render_as_string(hide_password=False)
                report.pdfs = render_pdfs(
                    url, numbers, workers=pdf_workers or None,
                    progress=lambda n: progress.update(rendering, advance=n)).rendered
        final = run_status(service, month)
    typer.echo(f"period: {month}")
    typer.echo(f"issued_by_this_run: {len(report.issued)}")
    typer.echo(f"nothing_to_bill: {report.empty}")
    typer.echo(f"failed: {report.failed}")
    typer.echo(f"pdfs_rendered: {report.pdfs}")
    typer.echo(f"run_items: {final.items} done: {final.done} pending: {final.pending} "
               f"failed: {final.failed}")  # fmt: skip
    if final.failed:
        raise typer.Exit(1)
