"""Bulk station onboarding: read a CSV of stations, check every row, register them in batches.

Columns (header row; names as below, any order; only `id` and `evses` are required):

    id,password,operator,time_zone,evses,location

- `password`: the station's HTTP Basic password (16-40 characters); empty: one is generated
  and reported once (`ImportReport.generated`); it is stored only as a hash.
- `time_zone`: IANA name; empty: the default given to the importer.
- `evses`: the EVSEs, separated by `;`, each `KW` or `NxKW`: its maximum power in kW and its
  number of connectors (default 1). `2x22;150` is EVSE 1 with two 22 kW connectors and
  EVSE 2 with one 150 kW connector.
- `location`: free text (the station's address).

The import is all or nothing by default: every row is checked (syntax, and against the
stations already registered) before anything is written, and one bad row writes nothing.
With `valid_only` the valid rows are registered and the bad ones reported. Running the same
file again is harmless: a station already registered with the same definition is counted as
unchanged (its password is neither compared nor changed); one registered differently is a
conflict, reported for its row, and left as it is.
"""

from __future__ import annotations

import csv
import io
import logging
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from evbill.accounts.passwords import MAX_LENGTH, MIN_LENGTH, hash_password
from evbill.accounts.stations import MAX_POWER_KW, StationError, check_time_zone
from evbill.store.database import Database
from evbill.store.installation import STATION_PASSWORD_KEY, installation_secret
from evbill.store.tables import ConnectorRow, EvseRow, StationRow

__all__ = ["COLUMNS", "EvseSpec", "ImportReport", "RowError", "StationImporter", "StationSpec",
           "parse_evses", "read_stations"]  # fmt: skip

log = logging.getLogger(__name__)

COLUMNS = ("id", "password", "operator", "time_zone", "evses", "location")
_REQUIRED = ("id", "evses")
#: Rows written per transaction (and per progress step of the database phase).
BATCH = 250
_MAX_EVSES = 64
_MAX_CONNECTORS = 8
_MAX_POWER_KW = MAX_POWER_KW
_MAX_OPERATOR = 128


@dataclass(frozen=True, slots=True)
class EvseSpec:
    connectors: int
    max_power_w: int


@dataclass(frozen=True, slots=True)
class StationSpec:
    line: int  # line of the CSV file (the header is line 1)
    station_id: str
    password: str | None  # None: generate one
    operator: str | None
    time_zone: str
    evses: tuple[EvseSpec, ...]
    location: str | None


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    station_id: str
    field: str
    reason: str

    def __str__(self) -> str:
        who = f" station {self.station_id!r}" if self.station_id else ""
        return f"line {self.line}{who}: {self.field}: {self.reason}"


@dataclass(slots=True)
class ImportReport:
    added: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    #: station id → generated password, for the stations added by this run (shown once)
    generated: dict[str, str] = field(default_factory=dict)
    written: bool = False  # False when an all-or-nothing import refused every row


def parse_evses(text: str) -> tuple[EvseSpec, ...]:
    """`2x22;150` → (2 connectors, 22,000 W), (1 connector, 150,000 W); ValueError with the
    reason when the text does not read so."""
    items = [item.strip() for item in text.split(";") if item.strip()]
    if not items:
        raise ValueError("at least one EVSE, e.g. 22 or 2x22;150 (kW, optionally connectors x)")
    if len(items) > _MAX_EVSES:
        raise ValueError(f"{len(items)} EVSEs, at most {_MAX_EVSES}")
    specs = []
    for number, item in enumerate(items, start=1):
        count, sep, power = item.lower().partition("x")
        if not sep:
            count, power = "1", item
        try:
            connectors, kw = int(count.strip()), Decimal(power.strip().removesuffix("kw"))
        except (ValueError, InvalidOperation):
            raise ValueError(f"EVSE {number}: {item!r} is not KW or NxKW (e.g. 22 or 2x22)") \
                from None
        if not 1 <= connectors <= _MAX_CONNECTORS:
            raise ValueError(f"EVSE {number}: {connectors} connectors, 1 to {_MAX_CONNECTORS}")
        if not kw.is_finite() or not 0 < kw <= _MAX_POWER_KW:
            raise ValueError(f"EVSE {number}: {power.strip()} kW is not above 0 and at most "
                             f"{_MAX_POWER_KW} kW")  # fmt: skip
        watts = kw * 1000
        if watts != watts.to_integral_value():
            raise ValueError(f"EVSE {number}: {power.strip()} kW is finer than 1 W")
        specs.append(EvseSpec(connectors, int(watts)))
    return tuple(specs)


def _check_id(station_id: str) -> str | None:
    if not station_id or len(station_id) > 48 or any(c in station_id for c in "/ \t"):
        return "must be 1 to 48 characters without '/' or spaces"
    return None


def _row(line: int, raw: dict[str, str], default_tz: str) -> StationSpec | list[RowError]:
    """The row as a spec, or every reason (one per field) why it cannot be one."""
    def cell(name: str) -> str:
        return (raw.get(name) or "").strip()

    station_id = cell("id")
    errors: list[RowError] = []

    def refuse(name: str, reason: str) -> None:
        errors.append(RowError(line, station_id, name, reason))

    if (reason := _check_id(station_id)) is not None:
        refuse("id", reason)
    password = raw.get("password") or None
    if password is not None and password != password.strip():
        refuse("password", "starts or ends with a space (it would be stored as part of the "
               "password): remove it")
        password = None
    elif password is not None and not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        refuse("password", f"must be {MIN_LENGTH} to {MAX_LENGTH} characters (OCPP "
               f"BasicAuthPassword), got {len(password)}; leave it empty to have one generated")
    operator = cell("operator") or None
    if operator is not None and len(operator) > _MAX_OPERATOR:
        refuse("operator", f"longer than {_MAX_OPERATOR} characters")
    time_zone = cell("time_zone") or default_tz
    try:
        check_time_zone(time_zone)
    except StationError:
        refuse("time_zone", f"{time_zone!r} is not an IANA time zone")
    evses: tuple[EvseSpec, ...] = ()
    try:
        evses = parse_evses(cell("evses"))
    except ValueError as exc:
        refuse("evses", str(exc))
    if errors:
        return errors
    return StationSpec(line, station_id, password, operator, time_zone, evses,
                       cell("location") or None)  # fmt: skip


def read_stations(text: str, default_tz: str) -> tuple[list[StationSpec], list[RowError]]:
    """Every row of the CSV checked on its own (and ids unique within the file)."""
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")), skipinitialspace=True)
    header = [name.strip() for name in reader.fieldnames or ()]
    reader.fieldnames = header
    unknown = [name for name in header if name not in COLUMNS]
    missing = [name for name in _REQUIRED if name not in header]
    if unknown or missing:
        reasons = ([f"unknown column(s) {', '.join(unknown)}"] if unknown else []) + (
            [f"missing column(s) {', '.join(missing)}"] if missing else [])
        return [], [RowError(1, "", "header", "; ".join(reasons)
                             + f" (columns: {', '.join(COLUMNS)})")]  # fmt: skip
    specs: list[StationSpec] = []
    errors: list[RowError] = []
    first_line: dict[str, int] = {}
    try:
        for raw in reader:
            line = reader.line_num
            if None in raw:
                errors.append(RowError(line, (raw.get("id") or "").strip(), "row",
                                       f"more cells than the {len(header)} columns"))
                continue
            if not any((value or "").strip() for value in raw.values()):
                continue  # a blank line
            parsed = _row(line, raw, default_tz)
            if isinstance(parsed, list):
                errors.extend(parsed)
                continue
            if parsed.station_id in first_line:
                errors.append(RowError(line, parsed.station_id, "id", "duplicate of line "
                                       f"{first_line[parsed.station_id]}"))  # fmt: skip
                continue
            first_line[parsed.station_id] = line
            specs.append(parsed)
    except csv.Error as exc:
        errors.append(RowError(reader.line_num, "", "row", f"not CSV: {exc}"))
    return specs, errors


def _difference(spec: StationSpec, row: StationRow, evses: Sequence[tuple[int, int | None, int]]
                ) -> RowError | None:  # fmt: skip
    """Why the registered station differs from the row (None when it is the same)."""
    for name, registered, wanted in (("time_zone", row.time_zone, spec.time_zone),
                                     ("operator", row.operator, spec.operator),
                                     ("location", row.address, spec.location)):  # fmt: skip
        if registered != wanted:
            return RowError(spec.line, spec.station_id, name, f"already registered with "
                            f"{registered!r}, the file says {wanted!r}")  # fmt: skip
    have = [(power, connectors) for _, power, connectors in sorted(evses)]
    want = [(e.max_power_w, e.connectors) for e in spec.evses]
    if have != want:
        return RowError(spec.line, spec.station_id, "evses", "already registered with "
                        f"{_describe(have)}, the file says {_describe(want)}")  # fmt: skip
    return None


def _describe(evses: Sequence[tuple[int | None, int]]) -> str:
    parts = [f"{connectors}x{'?' if power is None else Decimal(power) / 1000:f}"
             for power, connectors in evses]  # fmt: skip
    return ";".join(parts) or "no EVSE"


class StationImporter:
    """Registers checked `StationSpec`s; see the module docstring for the rules."""

    def __init__(self, db: Database, *, generate: Callable[[], str] | None = None) -> None:
        self._db = db
        self._generate = generate or (lambda: secrets.token_urlsafe(24))  # 32 characters

    def _existing(self, s: Session, ids: Iterable[str]
                  ) -> dict[str, tuple[StationRow, list[tuple[int, int | None, int]]]]:  # fmt: skip
        wanted = list(ids)
        stations = {row.id: row for row in s.scalars(
            select(StationRow).where(StationRow.id.in_(wanted)))}  # fmt: skip
        if not stations:
            return {}
        connectors: dict[tuple[str, int], int] = {}
        for station_id, evse_id in s.execute(select(
                ConnectorRow.station_id, ConnectorRow.evse_id).where(
                ConnectorRow.station_id.in_(list(stations)))):  # fmt: skip
            connectors[(station_id, evse_id)] = connectors.get((station_id, evse_id), 0) + 1
        evses: dict[str, list[tuple[int, int | None, int]]] = {sid: [] for sid in stations}
        for station_id, evse_id, power in s.execute(select(
                EvseRow.station_id, EvseRow.evse_id, EvseRow.max_power_w).where(
                EvseRow.station_id.in_(list(stations)))):  # fmt: skip
            evses[station_id].append((evse_id, power, connectors.get((station_id, evse_id), 0)))
        return {sid: (row, evses[sid]) for sid, row in stations.items()}

    def _against_registered(self, specs: Sequence[StationSpec], report: ImportReport,
                            progress: Callable[[int], None]) -> list[StationSpec]:
        """The specs still to add; unchanged ones and conflicts go into the report."""
        new: list[StationSpec] = []
        for start in range(0, len(specs), BATCH):
            chunk = specs[start:start + BATCH]
            with self._db.read_sessions() as s:
                existing = self._existing(s, (spec.station_id for spec in chunk))
            for spec in chunk:
                if spec.station_id not in existing:
                    new.append(spec)
                    continue
                row, evses = existing[spec.station_id]
                difference = _difference(spec, row, evses)
                if difference is None:
                    report.unchanged.append(spec.station_id)
                    progress(1)
                else:
                    report.errors.append(difference)
        return new

    def _insert(self, s: Session, chunk: Sequence[StationSpec], hashes: Sequence[str],
                now: datetime) -> None:  # fmt: skip
        s.execute(insert(StationRow), [dict(
            id=spec.station_id, time_zone=spec.time_zone, address=spec.location,
            operator=spec.operator, password_hash=hashed, meter_public_key=None,
            auto_registered=False, connected=False, created_at=now,
        ) for spec, hashed in zip(chunk, hashes, strict=True)])  # fmt: skip
        s.execute(insert(EvseRow), [
            dict(station_id=spec.station_id, evse_id=number, max_power_w=evse.max_power_w)
            for spec in chunk for number, evse in enumerate(spec.evses, start=1)])
        s.execute(insert(ConnectorRow), [
            dict(station_id=spec.station_id, evse_id=number, connector_id=connector,
                 status="Unknown")
            for spec in chunk for number, evse in enumerate(spec.evses, start=1)
            for connector in range(1, evse.connectors + 1)])  # fmt: skip

    def run(self, specs: Sequence[StationSpec], errors: Sequence[RowError], *, now: datetime,
            valid_only: bool = False, progress: Callable[[int], None] = lambda n: None,
            ) -> ImportReport:  # fmt: skip
        """Register the specs (after `read_stations`, whose `errors` are passed on).

        `progress` is called with the number of rows done (unchanged, added, refused)."""
        report = ImportReport(errors=list(errors))
        progress(len({e.line for e in errors}))  # rows refused by their own content
        new = self._against_registered(specs, report, progress)
        refused = len(report.errors) - len(errors)
        progress(refused)
        if report.errors and not valid_only:
            progress(len(new))
            report.errors.sort(key=lambda e: e.line)
            return report
        report.written = True
        # the registry's own scheme: a keyed HMAC under the installation's station key (read
        # once per run; each hash then costs microseconds)
        key = installation_secret(self._db, STATION_PASSWORD_KEY)
        for start in range(0, len(new), BATCH):
            self._add_batch(new[start:start + BATCH], now, key, report)
            progress(len(new[start:start + BATCH]))
        report.errors.sort(key=lambda e: e.line)
        log.info("stations.imported added=%d unchanged=%d refused=%d", len(report.added),
                 len(report.unchanged), len(report.errors))  # fmt: skip
        return report

    def _add_batch(self, chunk: Sequence[StationSpec], now: datetime, key: bytes,
                   report: ImportReport) -> None:  # fmt: skip
        passwords = [spec.password or self._generate() for spec in chunk]
        hashes = [hash_password(password, key=key) for password in passwords]
        try:
            with self._db.sessions() as s, s.begin():
                self._insert(s, chunk, hashes, now)
        except IntegrityError:  # another import registered some of them meanwhile
            self._one_by_one(chunk, passwords, hashes, now, report)
            return
        report.added.extend(spec.station_id for spec in chunk)
        report.generated.update((spec.station_id, password) for spec, password
                                in zip(chunk, passwords, strict=True)
                                if spec.password is None)  # fmt: skip

    def _one_by_one(self, chunk: Sequence[StationSpec], passwords: Sequence[str],
                    hashes: Sequence[str], now: datetime, report: ImportReport) -> None:
        for spec, password, hashed in zip(chunk, passwords, hashes, strict=True):
            try:
                with self._db.sessions() as s, s.begin():
                    self._insert(s, [spec], [hashed], now)
            except IntegrityError:
                with self._db.read_sessions() as s:
                    row, evses = self._existing(s, [spec.station_id])[spec.station_id]
                difference = _difference(spec, row, evses)
                if difference is None:
                    report.unchanged.append(spec.station_id)
                else:
                    report.errors.append(difference)
                continue
            report.added.append(spec.station_id)
            if spec.password is None:
                report.generated[spec.station_id] = password
