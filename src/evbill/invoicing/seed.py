"""Synthetic postpaid months for demos, tests and the billing benchmark: stations, rated
sessions (CDRs as OCPI JSON) and the payment charges that put them on customer accounts.

Charges are split with `payment_split`, the document rules, as the payment flows should do.
Rows are written with bulk inserts so a benchmark month of many sessions loads quickly.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import insert
from sqlalchemy.orm import Session

from evbill.invoicing.compose import Charge, ChargedSession, payment_split
from evbill.invoicing.sources import charges_from_ocpi
from evbill.invoicing.vat import VatTable
from evbill.payments.tables import PaymentChargeRow
from evbill.store.tables import CdrRow, SessionRow, StationRow, TariffRow

__all__ = ["SeedPlan", "seed_month"]

_TARIFF: Final[dict[str, Any]] = {
    "id": "seed-ac", "currency": "EUR", "country_code": "DE", "party_id": "EVB",
    "elements": [{"price_components": [
        {"type": "FLAT", "price": "0.50", "vat": "19", "step_size": 1},
        {"type": "ENERGY", "price": "0.39", "vat": "19", "step_size": 1},
        {"type": "TIME", "price": "1.20", "vat": "19", "step_size": 60},
        {"type": "PARKING_TIME", "price": "6.00", "vat": "19", "step_size": 60},
    ]}],
}  # fmt: skip
_PRICES: Final = {"FLAT": Decimal("0.50"), "ENERGY": Decimal("0.39"), "TIME": Decimal("1.20"),
                  "PARKING_TIME": Decimal("6.00")}  # fmt: skip


@dataclass(frozen=True, slots=True)
class SeedPlan:
    """`accounts` postpaid customers with `sessions_per_account` sessions each in a month."""

    accounts: int
    sessions_per_account: int
    year: int = 2026
    month: int = 10
    stations: int = 50
    operator: str = "evbill"
    method: str = "postpaid"
    first_account: int = 0
    charges: bool = True  # False: sessions and CDRs only (a test posts through payments)


def _session_values(n: int, plan: SeedPlan) -> tuple[datetime, datetime, Decimal, Decimal, Decimal]:
    start = datetime(plan.year, plan.month, 1, 6, tzinfo=UTC) + timedelta(
        minutes=(n * 37) % (27 * 24 * 60))
    charging = Decimal(30 + n % 150) / 60  # hours
    parking = Decimal(n % 4 * 15) / 60
    energy = (charging * Decimal("7.4") * Decimal("0.93")).quantize(Decimal("0.001"))
    return start, start + timedelta(hours=float(charging + parking)), charging, parking, energy


def _cdr(cdr_id: str, start: datetime, end: datetime, charging: Decimal, parking: Decimal,
         energy: Decimal) -> dict[str, Any]:  # fmt: skip
    def price(kind: str, quantity: Decimal) -> dict[str, str]:
        excl = (_PRICES[kind] * quantity).quantize(Decimal("0.0001"))
        return {"excl_vat": str(excl), "incl_vat": str((excl * Decimal("1.19")).quantize(
            Decimal("0.0001")))}  # fmt: skip

    return {
        "id": cdr_id, "start_date_time": start.isoformat(), "end_date_time": end.isoformat(),
        "currency": "EUR", "tariffs": [_TARIFF],
        "total_energy": str(energy), "total_time": str((charging + parking).quantize(
            Decimal("0.0001"))), "total_parking_time": str(parking.quantize(Decimal("0.0001"))),
        "total_fixed_cost": price("FLAT", Decimal(1)),
        "total_energy_cost": price("ENERGY", energy),
        "total_time_cost": price("TIME", charging.quantize(Decimal("0.0001"))),
        "total_parking_cost": price("PARKING_TIME", parking.quantize(Decimal("0.0001"))),
    }  # fmt: skip


def _batches(plan: SeedPlan, now: datetime, vat: VatTable) -> Iterator[
        tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]]:  # fmt: skip
    sessions: list[dict[str, Any]] = []
    cdrs: list[dict[str, Any]] = []
    charges: list[dict[str, Any]] = []
    total = plan.accounts * plan.sessions_per_account
    for n in range(total):
        account = f"acct-{plan.first_account + n % plan.accounts:06d}"
        sid = plan.first_account * plan.sessions_per_account + n + 1
        start, end, charging, parking, energy = _session_values(n, plan)
        cdr_id = f"CDR-{sid:09d}"
        cdr = _cdr(cdr_id, start, end, charging, parking, energy)
        station = f"SEED-{n % plan.stations:04d}"
        sessions.append({
            "id": sid, "station_id": station, "evse_id": 1 + n % 2, "connector_id": 1,
            "transaction_id": f"tx-{sid}", "state": "rated", "started_at": start,
            "stopped_at": end, "energy_wh": energy * 1000, "energy_source":
            "signed" if n % 3 else "meter", "time_zone": "Europe/Berlin",
            "start_received": True, "stop_received": True, "flags": [],
            "created_at": now, "updated_at": now,
        })  # fmt: skip
        cdrs.append({"id": cdr_id, "session_id": sid, "currency": "EUR",
                     "total_cost_excl_vat": Decimal(0), "total_cost_incl_vat": None,
                     "total_energy_wh": energy * 1000, "tariff_pk": 1,
                     "energy_source": "signed" if n % 3 else "meter",
                     "ocpi_json": json.dumps(cdr), "revision": 1, "created_at": now,
                     "updated_at": now})  # fmt: skip
        net, vat_lines = payment_split(_charged(cdr_id, cdr, start, end), vat)
        gross = net + sum((v for _, _, v in vat_lines), Decimal(0))
        charges.append({
            "id": f"ch-{sid}", "reference": cdr_id, "method": plan.method, "account": account,
            "operator": plan.operator, "currency": "EUR", "net": net,
            "vat": [{"country": c, "rate": r, "amount": f"{v:f}"} for c, r, v in vat_lines],
            "gross": gross, "refunded": Decimal(0), "status": "posted", "created_at": end,
            "updated_at": end,
        })  # fmt: skip
        if len(sessions) >= 5000:
            yield sessions, cdrs, charges
            sessions, cdrs, charges = [], [], []
    if sessions:
        yield sessions, cdrs, charges


def _charged(cdr_id: str, cdr: dict[str, Any], start: datetime, end: datetime) -> ChargedSession:
    parsed = json.loads(json.dumps(cdr), parse_float=Decimal)
    charges: tuple[Charge, ...] = charges_from_ocpi(parsed)
    return ChargedSession(
        reference=cdr_id, station_id="", evse_id="", address="", country="DE",
        time_zone="Europe/Berlin", start=start, end=end, charging_hours=Decimal(0),
        parking_hours=Decimal(0), energy_kwh=Decimal(0), signed_meter=False, currency="EUR",
        charges=charges,
    )  # fmt: skip


def seed_month(s: Session, plan: SeedPlan, *, now: datetime, vat: VatTable | None = None) -> int:
    """Insert the plan's stations, tariff, sessions, CDRs and charges; returns sessions added."""
    vat = vat or VatTable.default()
    if s.get(TariffRow, 1) is None:
        s.execute(insert(TariffRow).values(pk=1, tariff_id="seed-ac", version="1",
                                           currency="EUR", ocpi_json=json.dumps(_TARIFF),
                                           created_at=now))  # fmt: skip
    existing = {sid for (sid,) in s.query(StationRow.id).filter(StationRow.id.like("SEED-%"))}
    stations = [{"id": f"SEED-{i:04d}", "time_zone": "Europe/Berlin", "operator": plan.operator,
                 "address": f"Seedweg {i + 1}, 10115 Berlin", "auto_registered": False,
                 "connected": False, "created_at": now}
                for i in range(plan.stations) if f"SEED-{i:04d}" not in existing]  # fmt: skip
    if stations:
        s.execute(insert(StationRow), stations)
    added = 0
    for sessions, cdrs, charges in _batches(plan, now, vat):
        s.execute(insert(SessionRow), sessions)
        s.execute(insert(CdrRow), cdrs)
        if plan.charges:
            s.execute(insert(PaymentChargeRow), charges)
        added += len(sessions)
    return added

