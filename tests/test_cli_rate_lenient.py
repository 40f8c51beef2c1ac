"""`evbill rate` prices a tariff that lacks country_code, party_id or last_updated (fields that
never change a price) with a warning; storing a tariff for operation still requires them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evbill.cli import app
from evbill.config import get_settings
from evbill.tariffs import TariffError, loads, parse_tariff
from evbill.tariffs.lenient import PRICE_NEUTRAL_FIELDS, parse_tariff_for_pricing

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TARIFF = EXAMPLES / "tariffs" / "ac_standard.json"
CDR = EXAMPLES / "sessions" / "workplace_day_timeline.json"  # output names its tariff


def run(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def _without(tmp_path: Path, *fields: str) -> Path:
    data = json.loads(TARIFF.read_text(encoding="utf-8"))
    for field in fields:
        data.pop(field)
    path = tmp_path / "short.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize("fields", [("country_code",), ("party_id",), ("last_updated",),
                                    tuple(PRICE_NEUTRAL_FIELDS)])
def test_a_tariff_without_price_neutral_fields_is_priced_the_same_with_a_warning(
    tmp_path: Path, fields: tuple[str, ...]
) -> None:
    code, full, err = run("rate", "--tariff", TARIFF, "--tz", "Europe/Berlin", CDR)
    assert code == 0 and "warning" not in err
    code, out, err = run("rate", "--tariff", _without(tmp_path, *fields), "--tz",
                         "Europe/Berlin", CDR)
    assert code == 0, err
    priced, reference = loads(out), loads(full)
    assert priced["total_cost"] == reference["total_cost"]
    assert priced["charging_periods"] == reference["charging_periods"]
    assert err.startswith("warning: ") and all(field in err for field in fields)
    assert "tariffs add" in err or "storing" in err
    # the stand-ins used while pricing never appear in the output
    for field in fields:
        assert field not in priced["tariffs"][0]


def test_a_malformed_price_neutral_field_is_still_refused(tmp_path: Path) -> None:
    data = json.loads(TARIFF.read_text(encoding="utf-8"))
    data["country_code"] = "GERMANY"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    code, out, err = run("rate", "--tariff", path, "--tz", "Europe/Berlin", CDR)
    assert code == 2 and out == ""
    assert "invalid tariff: country_code" in err


def test_a_price_field_missing_is_no_leniency(tmp_path: Path) -> None:
    path = _without(tmp_path, "currency")
    code, _, err = run("rate", "--tariff", path, "--tz", "Europe/Berlin", CDR)
    assert code == 2 and "invalid tariff: currency: is required" in err


def test_storing_for_operation_still_requires_them() -> None:
    data = json.loads(TARIFF.read_text(encoding="utf-8"))
    for field in PRICE_NEUTRAL_FIELDS:
        short = {k: v for k, v in data.items() if k != field}
        with pytest.raises(TariffError, match=f"{field}: is required"):
            parse_tariff(short)
        assert parse_tariff_for_pricing(short).missing == (field,)


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[str]:
    monkeypatch.setenv("EVBILL_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()


def test_tariffs_add_refuses_a_tariff_without_country_code(cli_env: str, tmp_path: Path) -> None:
    code, _, err = run("tariffs", "add", _without(tmp_path, "country_code"), "--default")
    assert code == 2 and "country_code" in err
    code, _, err = run("tariffs", "add", TARIFF, "--default")
    assert code == 0, err
