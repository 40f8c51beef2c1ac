"""`evbill ocmf verify`: check signed meter readings (OCMF) against the meter's public key."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from evbill.cli.app import app, console, fail

if TYPE_CHECKING:
    from rich.table import Table

    from evbill.metering.ocmf import ContainerRecord, OcmfVerification

log = logging.getLogger(__name__)

ocmf_app = typer.Typer(
    name="ocmf",
    help="Signed meter readings (OCMF): verify them against the meter's public key.",
    no_args_is_help=True,
)
app.add_typer(ocmf_app, name="ocmf")

#: Above this many records the readings table is left out and a progress bar is shown.
_TABLE_LIMIT = 20


def _read_argument(value: str, what: str) -> str:
    """The value itself, stdin for "-", or a file's content for "@FILE"."""
    if value == "-":
        return sys.stdin.read()
    if value.startswith("@"):
        return _read_file(Path(value[1:]), what)
    return value


def _read_file(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"{what}: cannot read {path}: {exc}") from None


@dataclass(frozen=True, slots=True)
class _Outcome:
    """One entry's result: a verification, or why there is none."""

    number: int
    result: OcmfVerification | None = None
    unreadable: str | None = None
    skipped: str | None = None


def _readings_table(outcomes: list[_Outcome]) -> Table:
    from rich import box
    from rich.table import Table

    table = Table(title="OCMF readings", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("#", "PG", "TM", "TX", "RV", "RU", "RI", "EF", "ST"):
        # Fold rather than truncate: a verification tool must never hide digits.
        table.add_column(column, justify="right" if column == "RV" else "left", overflow="fold")
    for outcome in outcomes:
        if outcome.result is None:
            continue
        pagination = str(outcome.result.document.payload.pagination)
        for reading in outcome.result.readings:
            table.add_row(
                str(outcome.number),
                pagination,
                reading.time.text,
                reading.transaction.value if reading.transaction else "",
                "" if reading.value is None else str(reading.value),
                reading.unit or "",
                reading.obis or "",
                reading.error_flags,
                reading.status.value if reading.status else "",
            )
    return table


def _describe(outcome: _Outcome) -> str:
    if outcome.skipped is not None:
        return f"record {outcome.number}: skipped ({outcome.skipped})"
    if outcome.result is None:
        return f"record {outcome.number}: unreadable ({outcome.unreadable})"
    result = outcome.result
    meter, gateway = result.meter, result.gateway
    who = " ".join(p for p in (meter.manufacturer, meter.model, meter.serial) if p)
    who = who or " ".join(p for p in (gateway.identification, gateway.serial) if p)
    lines = [
        f"record {outcome.number}: {result.verdict.value} ({result.reason}); "
        f"PG {result.document.payload.pagination}; meter {who or 'unknown'}"
    ]
    lines += [f"  warning: {warning}" for warning in result.warnings]
    return "\n".join(lines)


def _energy_line(results: list[OcmfVerification]) -> str:
    from evbill.metering.ocmf import session_energy

    energy = session_energy(*results) if len(results) <= 2 else None
    if energy is None:
        return "energy_wh: - (give one record with both readings, or a begin and an end record)"
    if energy.energy_wh is None:
        return f"energy_wh: - ({energy.refusal}: {energy.reason})"
    return f"energy_wh: {energy.energy_wh}"


def _check(entry: ContainerRecord, key: str | None) -> _Outcome:
    from evbill.metering.ocmf import OcmfFormatError, verify_ocmf

    if entry.skipped is not None or entry.text is None:
        return _Outcome(entry.number, skipped=entry.skipped or "no OCMF record")
    chosen = key if key is not None else entry.public_key
    if chosen is None:
        return _Outcome(entry.number, unreadable="no public key: give --public-key")
    try:
        return _Outcome(entry.number, verify_ocmf(entry.text, chosen))
    except OcmfFormatError as exc:
        return _Outcome(entry.number, unreadable=str(exc))


def _check_all(entries: list[ContainerRecord], key: str | None) -> list[_Outcome]:
    if len(entries) <= _TABLE_LIMIT:
        return [_check(entry, key) for entry in entries]
    from rich.progress import Progress

    outcomes: list[_Outcome] = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("verifying", total=len(entries))
        for entry in entries:
            outcomes.append(_check(entry, key))
            progress.advance(task)
    return outcomes


def _summary(outcomes: list[_Outcome]) -> tuple[str, int]:
    counts = {"valid": 0, "invalid": 0, "unreadable": 0, "skipped": 0}
    for outcome in outcomes:
        if outcome.skipped is not None:
            counts["skipped"] += 1
        elif outcome.result is None:
            counts["unreadable"] += 1
        else:
            counts[outcome.result.verdict.value] += 1
    checked = len(outcomes) - counts["skipped"]
    line = f"records: {checked} (" + ", ".join(f"{k} {v}" for k, v in counts.items()) + ")"
    code = 2 if counts["unreadable"] else 1 if counts["invalid"] else 0
    return line, code


@ocmf_app.command("verify")
def verify(
    ocmf: Annotated[
        str | None,
        typer.Argument(
            metavar="OCMF_STRING",
            help="OCMF|{payload}|{signature}; '-' reads stdin, '@FILE' reads a file. "
            "Several records (e.g. begin and end) may follow one another.",
        ),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            "-f",
            help="A file of records: one after another (one per line), or the transparency "
            "software's XML container (<values><value><signedData>…<publicKey>…).",
        ),
    ] = None,
    public_key: Annotated[
        str | None,
        typer.Option(
            "--public-key",
            "-k",
            help="Meter public key: DER SubjectPublicKeyInfo as hex or base64, PEM, or the raw "
            "point (64/96 bytes, with or without 04); '@FILE' reads it from a file. Overrides "
            "the keys in an XML container; required for records without one.",
        ),
    ] = None,
) -> None:
    """Verify signed meter readings: a verdict per record; exit 0 all valid, 1 some not valid,
    2 unreadable input."""
    from evbill.metering.ocmf import OcmfFormatError, read_records

    if (ocmf is None) == (file is None):
        raise fail("give either OCMF_STRING or --file")
    text = (
        _read_file(file, "--file")
        if file is not None
        else _read_argument(ocmf or "", "OCMF_STRING")
    )
    key = None if public_key is None else _read_argument(public_key, "--public-key").strip()
    try:
        entries = read_records(text)
    except OcmfFormatError as exc:
        raise fail(str(exc), 2) from None
    outcomes = _check_all(entries, key)
    checked = [o for o in outcomes if o.skipped is None]
    if not checked:
        raise fail("no OCMF record in the input", 2)
    if len(outcomes) == 1 and outcomes[0].unreadable is not None:
        log.info("ocmf.unreadable reason=%s", outcomes[0].unreadable)
        raise fail(outcomes[0].unreadable, 2)
    results = [o.result for o in outcomes if o.result is not None]
    if len(outcomes) <= _TABLE_LIMIT:
        console.print(_readings_table(outcomes))
    for outcome in outcomes:
        if outcome.result is not None:
            log.info(
                "ocmf.verified record=%d verdict=%s algorithm=%s warnings=%d",
                outcome.number, outcome.result.verdict.value, outcome.result.algorithm,
                len(outcome.result.warnings),
            )  # fmt: skip
        typer.echo(_describe(outcome))
    if len(results) == len(checked) and len(results) <= 2:
        typer.echo(_energy_line(results))
    summary, code = _summary(outcomes)
    if len(outcomes) > 1:
        typer.echo(summary)
    typer.echo(f"verdict: {'valid' if code == 0 else 'invalid'}")
    if code:
        raise typer.Exit(code)
