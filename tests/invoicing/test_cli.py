"""`evbill bill` and `evbill invoice show` against a seeded SQLite database."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree
from typer.testing import CliRunner

from evbill.cli import app
from evbill.invoicing.seed import SeedPlan, seed_month
from evbill.store.database import Database

from .parallel_workers import NOW

runner = CliRunner()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # one backend suffices
def test_bill_then_show_writes_pdf_and_xml(tmp_path: Path, db: Database) -> None:
    url = db.engine.url.render_as_string(hide_password=False)
    with db.sessions() as s:
        seed_month(s, SeedPlan(accounts=2, sessions_per_account=3), now=NOW)
        s.commit()
    result = runner.invoke(app, ["bill", "--period", "2026-10", "--no-pdf", "--database", url])
    assert result.exit_code == 0, result.output
    assert "issued_by_this_run: 2" in result.stdout
    again = runner.invoke(app, ["bill", "--period", "2026-10", "--no-pdf", "--database", url])
    assert "issued_by_this_run: 0" in again.stdout and "done: 2" in again.stdout
    pdf, xml, ubl = tmp_path / "i.pdf", tmp_path / "i.xml", tmp_path / "u.xml"
    shown = runner.invoke(app, ["invoice", "show", "INV-2026-000002", "--pdf", str(pdf),
                                "--xml", str(xml), "--ubl", str(ubl), "--database", url])
    assert shown.exit_code == 0, shown.output
    assert "number: INV-2026-000002" in shown.stdout and "total_incl_vat:" in shown.stdout
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert etree.parse(str(xml)).getroot().tag.endswith("CrossIndustryInvoice")
    assert etree.parse(str(ubl)).getroot().tag.endswith("Invoice")
    missing = runner.invoke(app, ["invoice", "show", "INV-2099-000001", "--database", url])
    assert missing.exit_code == 1
    bad = runner.invoke(app, ["bill", "--period", "2026-13", "--database", url])
    assert bad.exit_code == 2
