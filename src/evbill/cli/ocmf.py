"""`evbill ocmf verify`: check signed meter readings (OCMF) against the meter's public key."""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.table import Table

from evbill.cli.app import app, console, fail

if TYPE_CHECKING:
    from evbill.metering.ocmf import OcmfVerification

log = logging.getLogger(__name__)

ocmf_app = typer.Typer(
    name="ocmf",
    help="Signed meter readings (OCMF): verify them against the meter's public key.",
    no_args_is_help=True,
)
app.add_typer(ocmf_app, name="ocmf")

# Several records in one input: each starts with "OCMF|" (a pipe never occurs inside one).
_RECORD_START = re.compile(r"(?=OCMF\|)")


def _read_argument(value: str, what: str) -> str:
    """The value itself, stdin for "-", or a file's content for "@FILE"."""
    if value == "-":
        return sys.stdin.read()
    if value.startswith("@"):
        path = Path(value[1:])
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise fail(f"{what}: cannot read {path}: {exc}") from None
    return value


def _split_records(text: str) -> list[str]:
    records = [part.strip() for part in _RECORD_START.split(text.strip()) if part.strip()]
    return records or [text]


def _readings_table(results: list[OcmfVerification]) -> Table:
    table = Table(title="OCMF readings", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("#", "PG", "TM", "TX", "RV", "RU", "RI", "EF", "ST"):
        # Fold rather than truncate: a verification tool must never hide digits.
        table.add_column(column, justify="right" if column == "RV" else "left", overflow="fold")
    for number, result in enumerate(results, start=1):
        pagination = str(result.document.payload.pagination)
        for reading in result.readings:
            table.add_row(
                str(number),
                pagination,
                reading.time.text,
                reading.transaction.value if reading.transaction else "",
                "" if reading.value is None else str(reading.value),
                reading.unit or "",
                reading.obis or "",
                reading.error_flags,
                reading.status.value,
            )
    return table


def _describe(number: int, result: OcmfVerification) -> str:
    meter = result.meter
    gateway = result.gateway
    who = " ".join(p for p in (meter.manufacturer, meter.model, meter.serial) if p)
    who = who or " ".join(p for p in (gateway.identification, gateway.serial) if p)
    return (
        f"record {number}: {result.verdict.value} ({result.reason}); "
        f"PG {result.document.payload.pagination}; meter {who or 'unknown'}"
    )


def _energy_line(results: list[OcmfVerification]) -> str:
    from evbill.metering.ocmf import session_energy

    energy = session_energy(*results) if len(results) <= 2 else None
    if energy is None:
        return "energy_wh: - (give one record with both readings, or a begin and an end record)"
    if energy.energy_wh is None:
        return f"energy_wh: - ({energy.refusal}: {energy.reason})"
    return f"energy_wh: {energy.energy_wh}"


@ocmf_app.command("verify")
def verify(
    ocmf: Annotated[
        str,
        typer.Argument(
            metavar="OCMF_STRING",
            help="OCMF|{payload}|{signature}; '-' reads stdin, '@FILE' reads a file. "
            "Several records (e.g. begin and end) may follow one another.",
        ),
    ],
    public_key: Annotated[
        str,
        typer.Option(
            "--public-key",
            "-k",
            help="Meter public key: DER SubjectPublicKeyInfo as hex or base64, or PEM; "
            "'@FILE' reads it from a file.",
        ),
    ],
) -> None:
    """Verify signed meter readings; exit 0 valid, 1 not valid, 2 unreadable input."""
    from evbill.metering.ocmf import OcmfFormatError, verify_ocmf

    records = _split_records(_read_argument(ocmf, "OCMF_STRING"))
    key = _read_argument(public_key, "--public-key")
    try:
        results = [verify_ocmf(record, key) for record in records]
    except OcmfFormatError as exc:
        log.info("ocmf.unreadable reason=%s", exc)
        raise fail(str(exc), 2) from None
    console.print(_readings_table(results))
    for number, result in enumerate(results, start=1):
        log.info(
            "ocmf.verified record=%d verdict=%s algorithm=%s pagination=%s",
            number, result.verdict.value, result.algorithm, result.document.payload.pagination,
        )  # fmt: skip
        typer.echo(_describe(number, result))
    typer.echo(_energy_line(results))
    all_valid = all(result.is_valid for result in results)
    typer.echo(f"verdict: {'valid' if all_valid else 'invalid'}")
    if not all_valid:
        raise typer.Exit(1)
