"""`evbill invoice show NUMBER [--pdf FILE] [--xml FILE] [--ubl FILE]`: an issued document."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.table import Table

from evbill.cli.app import app, console, fail

if TYPE_CHECKING:
    from evbill.invoicing.model import Document
    from evbill.invoicing.service import InvoicingService

invoice_app = typer.Typer(
    name="invoice",
    help="Issued receipts, invoices and credit notes: show them, write their PDF and XML.",
    no_args_is_help=True,
)
app.add_typer(invoice_app, name="invoice")

DatabaseOption = Annotated[
    str | None,
    typer.Option("--database", help="SQLAlchemy URL (default: EVBILL_DATABASE_URL or SQLite)."),
]


@contextmanager
def invoicing_service(url: str | None) -> Iterator[InvoicingService]:
    """An `InvoicingService` on the configured database (schema checked)."""
    from evbill.config import get_settings
    from evbill.invoicing.service import InvoicingService
    from evbill.store import Database, SchemaError

    try:
        db = Database.open(url or get_settings().resolved_database_url)
    except SchemaError as exc:
        raise fail(str(exc)) from None
    try:
        yield InvoicingService(db)
    finally:
        db.dispose()


def _summary(doc: Document) -> Table:
    from evbill.invoicing.render_html import format_money

    cur = doc.currency
    table = Table(title=f"{doc.doc_type.label} {doc.number}", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False)  # fmt: skip
    for column, justify in (("session", "left"), ("station · EVSE", "left"),
                            ("local start", "left"), ("kWh", "right"), ("net", "right"),
                            ("VAT", "right"), ("gross", "right")):  # fmt: skip
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for block in doc.sessions:
        table.add_row(block.reference, f"{block.station_id} · {block.evse_id}",
                      f"{block.local_start:%Y-%m-%d %H:%M %Z}", f"{block.energy_kwh:f}",
                      format_money(block.net, cur), format_money(block.vat, cur),
                      format_money(block.gross, cur))  # fmt: skip
    return table


def _echo_header(doc: Document) -> None:
    from evbill.invoicing.render_html import format_rate

    typer.echo(f"number: {doc.number}")
    typer.echo(f"type: {doc.doc_type.value}")
    typer.echo(f"issue_date: {doc.issue_date.isoformat()}")
    typer.echo(f"period: {doc.period_start.isoformat()}..{doc.period_end.isoformat()}")
    typer.echo(f"issuer: {doc.issuer.name} ({doc.issuer.vat_id or '-'})")
    typer.echo(f"customer: {doc.customer.name} [{doc.account_id}] ({doc.customer.vat_id or '-'})")
    if doc.corrects_number:
        typer.echo(f"corrects: {doc.corrects_number}")
    for subtotal in doc.totals.by_rate:
        typer.echo(f"vat {format_rate(subtotal.rate)}: {subtotal.vat:f} on {subtotal.taxable:f}")
    typer.echo(f"total_excl_vat: {doc.totals.net:f} {doc.currency}")
    typer.echo(f"total_vat: {doc.totals.vat:f} {doc.currency}")
    typer.echo(f"total_incl_vat: {doc.totals.gross:f} {doc.currency}")


@invoice_app.command("show")
def show(
    number: Annotated[str, typer.Argument(help="Document number, e.g. INV-2026-000123.")],
    pdf: Annotated[Path | None, typer.Option("--pdf", help="Write the PDF/A-3 (Factur-X).")] = None,
    xml: Annotated[Path | None, typer.Option("--xml", help="Write the CII XML (Factur-X).")] = None,
    ubl: Annotated[Path | None, typer.Option("--ubl", help="Write the UBL 2.1 XML.")] = None,
    database: DatabaseOption = None,
) -> None:
    """Print a document's totals and sessions; optionally write its PDF and XML files.
    Exit 1 when the stored document fails its tamper check (`evbill invoice verify`)."""
    from evbill.invoicing.chain_store import document_problems
    from evbill.invoicing.cii import to_cii
    from evbill.invoicing.model import DocumentError
    from evbill.invoicing.service import DocumentNotFound
    from evbill.invoicing.ubl import to_ubl

    with invoicing_service(database) as service:
        try:
            problems = document_problems(service.db, number)
            for problem in problems:
                typer.echo(f"WARNING: verification FAILED: {problem}", err=True)
            doc = service.find(number)
            _echo_header(doc)
            console.print(_summary(doc))
            outputs: list[tuple[Path | None, Callable[[], bytes]]] = [
                (pdf, lambda: service.pdf(number)), (xml, lambda: to_cii(doc)),
                (ubl, lambda: to_ubl(doc))]  # fmt: skip
            for path, produce in outputs:
                if path is not None:
                    path.write_bytes(produce())
                    typer.echo(f"wrote: {path}")
        except DocumentNotFound as exc:
            raise fail(str(exc), 1) from None
        except (DocumentError, OSError) as exc:
            raise fail(str(exc)) from None
    if problems:
        raise typer.Exit(1)


def echo_documents_report(url: str | None) -> bool:
    """Verify the issued documents; print every problem (stderr) or the summary (stdout)."""
    from evbill.config import get_settings
    from evbill.invoicing.chain_store import verify_stored_documents
    from evbill.store import Database, SchemaError

    try:
        db = Database.open(url or get_settings().resolved_database_url)
    except SchemaError as exc:
        raise fail(str(exc)) from None
    try:
        report = verify_stored_documents(db)
    finally:
        db.dispose()
    if report.ok:
        typer.echo(report.summary())
        return True
    for problem in report.problems:
        typer.echo(f"document verification FAILED: {problem}", err=True)
    typer.echo(f"{len(report.problems)} problem(s) in {report.documents} documents", err=True)
    return False


@invoice_app.command("verify")
def verify(database: DatabaseOption = None) -> None:
    """Recompute every issued document's hash, its series chain and the daily roots; exit 1
    naming each changed, deleted or reordered document."""
    if not echo_documents_report(database):
        raise typer.Exit(1)

