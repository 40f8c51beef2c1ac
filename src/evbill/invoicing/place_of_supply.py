"""Where a charging session is supplied (and so taxed): the country of its station.

The CDR's OCPI `cdr_location.country` (ISO 3166-1 alpha-3, as OCPI writes it) when a partner
or the operator stored one; else the country of the station's IANA time zone (the tz
database's `zone.tab` names one country per zone, e.g. Europe/Vienna → AT); else the caller's
default (the issuer's country). See docs/invoicing.md, "Place of supply".
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Final

__all__ = ["station_country", "zone_country"]

#: OCPI writes alpha-3 codes; documents and VAT need alpha-2.
_ALPHA3: Final = {
    "AUT": "AT", "BEL": "BE", "BGR": "BG", "CYP": "CY", "CZE": "CZ", "DEU": "DE", "DNK": "DK",
    "EST": "EE", "ESP": "ES", "FIN": "FI", "FRA": "FR", "GRC": "GR", "HRV": "HR", "HUN": "HU",
    "IRL": "IE", "ITA": "IT", "LTU": "LT", "LUX": "LU", "LVA": "LV", "MLT": "MT", "NLD": "NL",
    "POL": "PL", "PRT": "PT", "ROU": "RO", "SWE": "SE", "SVN": "SI", "SVK": "SK", "CHE": "CH",
    "NOR": "NO", "GBR": "GB", "LIE": "LI", "ISL": "IS", "USA": "US", "CAN": "CA",
}  # fmt: skip


@lru_cache(maxsize=1)
def _zones() -> dict[str, str]:
    text = ""
    for path in (Path("/usr/share/zoneinfo/zone.tab"),):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            break
    else:
        try:
            text = resources.files("tzdata.zoneinfo").joinpath("zone.tab").read_text("utf-8")
        except (ModuleNotFoundError, FileNotFoundError):
            return {}
    zones = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            parts = line.split("\t")
            if len(parts) >= 3:
                zones[parts[2]] = parts[0]
    return zones


def zone_country(time_zone: str) -> str | None:
    """The country of an IANA zone (`Europe/Paris` → `FR`), None if the zone names none."""
    return _zones().get(time_zone)


def station_country(cdr: dict[str, Any], time_zone: str, *, default: str) -> str:
    location = cdr.get("cdr_location") or cdr.get("location") or {}
    code = str(location.get("country") or "").upper() if isinstance(location, dict) else ""
    if len(code) == 3 and code in _ALPHA3:
        return _ALPHA3[code]
    if len(code) == 2 and code.isalpha():
        return code
    return zone_country(time_zone) or default
