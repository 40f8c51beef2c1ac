"""Pricing a tariff that lacks fields which never change a price.

`country_code`, `party_id` and `last_updated` identify a tariff and its version between OCPI
parties; rating never reads them. `evbill rate` prices a real-world tariff without them and
warns; storing a tariff for operation (`evbill tariffs add`, the API) still requires them,
because there they key the tariff's versions (`parse_tariff` stays strict).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from evbill.tariffs.model import Tariff
from evbill.tariffs.parse import TariffError, parse_tariff

__all__ = ["PRICE_NEUTRAL_FIELDS", "LenientTariff", "parse_tariff_for_pricing"]

#: Fields a tariff needs between parties but not to compute a price, with the stand-ins used
#: while pricing (never shown: `LenientTariff.ocpi` leaves them out again).
PRICE_NEUTRAL_FIELDS: Final[dict[str, str]] = {
    "country_code": "ZZ",
    "party_id": "ZZZ",
    "last_updated": "1970-01-01T00:00:00Z",
}


@dataclass(frozen=True, slots=True)
class LenientTariff:
    """A tariff ready to price, and the price-neutral fields it did not have."""

    tariff: Tariff
    missing: tuple[str, ...]

    @property
    def warning(self) -> str | None:
        if not self.missing:
            return None
        return (f"tariff has no {', '.join(self.missing)}: priced anyway (they do not change a "
                "price); storing it for operation requires them")

    def ocpi(self) -> dict[str, Any]:
        """The tariff's OCPI JSON without the stand-ins for the missing fields."""
        out = self.tariff.to_ocpi()
        for name in self.missing:
            out.pop(name, None)
        return out


def parse_tariff_for_pricing(data: object) -> LenientTariff:
    """Like `parse_tariff`, but an absent (or null) price-neutral field is no error.

    A present but malformed value is still refused: it is a broken tariff, not a short one.
    """
    if not isinstance(data, Mapping):
        raise TariffError("(root)", "expected a JSON object")
    missing = tuple(name for name in PRICE_NEUTRAL_FIELDS if data.get(name) is None)
    filled = {**data, **{name: PRICE_NEUTRAL_FIELDS[name] for name in missing}}
    return LenientTariff(parse_tariff(filled), missing)
