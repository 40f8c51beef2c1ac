"""The live part of `evbill demo`: fresh SQLite, in-process gateway, fleet, read-back."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from evbill.cli.demo import EXAMPLES, _live_tables
from evbill.config import sqlite_url_for
from evbill.sim.fleet import run_fleet
from evbill.sim.showcase import DEMO_FLEET, run_showcase
from evbill.store.database import Database
from evbill.store.tables import StationRow


async def test_the_demo_fleet_is_recorded_and_billed(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    (data_dir / "stale").mkdir(parents=True)  # left over from an earlier run
    config = replace(DEMO_FLEET, sessions=9)
    result = await run_showcase(data_dir, EXAMPLES, run_fleet, config)

    assert not (data_dir / "stale").exists() and (data_dir / "evbill.sqlite3").exists()
    report = result.report
    assert report.sessions_completed == 9 and report.undelivered == 0
    assert report.stats.acknowledged == report.stats.sent
    assert [s.protocol for s in result.stations] == ["1.6", "2.0.1", "2.1"] * 2
    assert [s.charger for s in result.stations] == ["AC", "AC", "DC"] * 2
    assert sum(s.sessions for s in result.stations) == 9
    assert sum(s.rated for s in result.stations) == 9 and result.flagged == ()
    assert sum(s.energy_wh for s in result.stations) == Decimal(report.energy_wh)
    for station in result.stations:
        by_station = report.energy_by_station().get(station.station_id, 0)
        assert station.energy_wh == by_station
        if station.sessions:
            assert station.total_incl_vat > station.total_excl_vat > 0
    table, text = _live_tables(result)
    assert table.row_count == 7  # six stations and the total
    assert "9 charging sessions" in text and "DC-FAST-2024" in text
    money = result.money
    assert money.books.ledger.verified and money.books.ledger.balanced
    assert money.books.ledger.proof_ok and not money.books.undocumented
    assert all(d.agrees for d in money.books.documents)
    fleet = money.stories.fleet  # the receivable ends at the invoice's total (VAT rounding)
    assert fleet.invoice_total == fleet.receivable
    assert abs(fleet.invoice_total.amount - fleet.posted.amount) <= Decimal("0.05")
    # every station ends on the registry's keyed hash (the scheme the gateway verifies)
    db = Database.open(sqlite_url_for(result.data_dir))
    try:
        with db.read_sessions() as r:
            hashes = list(r.scalars(select(StationRow.password_hash)))
    finally:
        db.dispose()
    assert len(hashes) == 6 and all((h or "").startswith("hmac_sha256$") for h in hashes)
