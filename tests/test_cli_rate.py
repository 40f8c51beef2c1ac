"""`evbill rate` and `evbill demo` on the example files; bad input exits 2 with one line."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evbill.cli import app
from evbill.tariffs import loads

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TARIFFS = EXAMPLES / "tariffs"
SESSIONS = EXAMPLES / "sessions"


def run(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def test_readme_command_prices_the_evening_cdr() -> None:
    code, out, _ = run("rate", "--tariff", TARIFFS / "ac_standard.json", "--tz", "Europe/Berlin",
                       SESSIONS / "evening_cdr.json")
    assert code == 0
    cdr = loads(out)
    # 26.3 kWh at the day price 0.3866 (charging ends 20:15 local, before the 22:00 night price);
    # the idle fee needs 4 h and 08:00–20:00, which never overlap here.
    assert cdr["total_cost"] == {"excl_vat": Decimal("10.1676"), "incl_vat": Decimal("12.0994")}
    assert cdr["id"] == "CDR-2024-06-10-0042" and cdr["cdr_token"]["uid"] == "012345678"
    assert [p["tariff_id"] for p in cdr["charging_periods"]] == ["AC-STANDARD-2024"] * 4
    assert cdr["breakdown"][0]["type"] == "ENERGY"
    assert cdr["document_total"] == {"excl_vat": Decimal("10.17"), "incl_vat": Decimal("12.10")}


def test_timeline_session_file() -> None:
    code, out, _ = run("rate", "--tariff", TARIFFS / "ac_standard.json", "--tz", "Europe/Berlin",
                       SESSIONS / "workplace_day_timeline.json")
    assert code == 0
    cdr = json.loads(out)
    assert cdr["id"] == "S-AC-WORKPLACE"
    # 33 kWh at 0.3866 + idle fee 11:45–16:45 local minus the 4 h grace → 4 h at 5.042/h
    assert Decimal(str(cdr["total_cost"]["excl_vat"])) == Decimal("32.9258")
    kinds = [line["type"] for line in cdr["breakdown"]]
    assert kinds == ["ENERGY", "PARKING_TIME"]


def test_default_time_zone_is_utc() -> None:
    code, out, _ = run("rate", "--tariff", TARIFFS / "ac_standard.json",
                       SESSIONS / "overnight_dst_timeline.json")
    assert code == 0
    utc = loads(out)["total_cost"]["excl_vat"]
    _, out_berlin, _ = run("rate", "--tariff", TARIFFS / "ac_standard.json", "--tz",
                           "Europe/Berlin", SESSIONS / "overnight_dst_timeline.json")
    assert utc != loads(out_berlin)["total_cost"]["excl_vat"]  # the night window moves


@pytest.mark.parametrize(("tariff", "session", "extra", "message"), [
    ("broken_step.json", "evening_cdr.json", (),
     "invalid tariff: elements[0].price_components[0].step_size: -1 is negative"),
    ("ac_standard.json", "missing.json", (), "missing.json: cannot read"),
    ("ac_standard.json", "not_json.json", (), "not_json.json: not valid JSON"),
    ("ac_standard.json", "neither.json", (), "cannot price: neither charging_periods"),
    ("ac_standard.json", "evening_cdr.json", ("--tz", "Moon/Base"),
     "cannot price: tz: 'Moon/Base' is not an IANA time zone"),
    ("ac_standard.json", "usd_cdr.json", (), "currency: CDR is in 'USD'"),
])
def test_bad_files_exit_2_with_a_one_line_reason(tmp_path: Path, tariff: str, session: str,
                                                 extra: tuple[str, ...], message: str) -> None:
    (tmp_path / "broken_step.json").write_text(json.dumps({
        "country_code": "DE", "party_id": "EVB", "id": "X", "currency": "EUR",
        "elements": [{"price_components": [{"type": "ENERGY", "price": 0.3, "step_size": -1}]}],
        "last_updated": "2024-01-01T00:00:00Z"}))
    (tmp_path / "not_json.json").write_text("{samples: [")
    (tmp_path / "neither.json").write_text('{"id": "x"}')
    usd = json.loads((SESSIONS / "evening_cdr.json").read_text())
    usd["currency"] = "USD"
    (tmp_path / "usd_cdr.json").write_text(json.dumps(usd))
    for name in ("ac_standard.json", "evening_cdr.json"):
        src = (TARIFFS if name.startswith("ac") else SESSIONS) / name
        (tmp_path / name).write_text(src.read_text())
    code, out, err = run("rate", "--tariff", tmp_path / tariff, *extra, tmp_path / session)
    assert code == 2
    assert out == ""
    assert message in err
    assert err.strip().count("\n") == 0


def test_demo_prints_a_table_of_priced_examples() -> None:
    code, out, _ = run("demo", "--no-live")  # the live part: tests/sim/test_demo_money.py
    assert code == 0
    assert "evbill pricing demo" in out
    assert "EUR" in out and "USD" in out


def test_pricing_demo_function_is_reusable() -> None:
    from evbill.cli.demo import CASES, pricing_demo

    results = pricing_demo()
    assert [r.case for r in results] == list(CASES)
    assert all(r.cdr.total_cost.excl_vat.amount > 0 for r in results)
