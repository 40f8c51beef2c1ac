"""Operator tariffs: list, create/version with assignment, group assignment, price preview.

Tariff bodies are read from the raw JSON with exact decimals (never through floats).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from evbill.accounts.roles import STAFF, Role
from evbill.api.auth import Allow, Principal
from evbill.api.context import context_of
from evbill.api.params import Name
from evbill.api.plainwords import describe_tariff
from evbill.api.problems import BadRequest
from evbill.api.schemas import Body, MoneyOut, money_out
from evbill.api.tariffs import SampleSession, TariffAdmin, parse, preview
from evbill.store.tables import TariffRow
from evbill.tariffs import loads

router = APIRouter(prefix="/api/v1/operator", tags=["tariffs"])
Staff = Annotated[Principal, Depends(Allow(*STAFF))]
Admin = Annotated[Principal, Depends(Allow(Role.OPERATOR_ADMIN))]


class TariffVersionOut(BaseModel):
    tariff_id: str
    version: str
    currency: str
    created_at: datetime
    prices: list[str]


class TariffIn(Body):
    tariff: dict[str, Any] = Field(description="an OCPI 2.2.1 Tariff object")
    station_id: str = Field(max_length=64)
    evse_id: int | None = Field(default=None, ge=1)
    valid_from: datetime | None = None


class GroupIn(Body):
    version: str = Field(max_length=64)
    group_id: str = Field(min_length=1, max_length=64)
    valid_from: datetime


class SampleIn(Body):
    start: datetime
    energy_kwh: Decimal = Field(gt=0, le=1000)
    charging_minutes: int = Field(gt=0, le=24 * 60)
    parking_minutes: int = Field(default=0, ge=0, le=24 * 60)
    time_zone: str = "Europe/Berlin"


class PreviewIn(Body):
    tariff: dict[str, Any]
    sample: SampleIn


class LineOut(BaseModel):
    kind: str
    quantity: str
    unit: str
    amount_excl_vat: MoneyOut
    amount_incl_vat: MoneyOut


class PreviewOut(BaseModel):
    total_excl_vat: MoneyOut
    total_incl_vat: MoneyOut
    energy_kwh: str
    lines: list[LineOut]
    prices: list[str]


def _version_out(row: TariffRow) -> TariffVersionOut:
    lines = describe_tariff(parse(loads(row.ocpi_json)))
    return TariffVersionOut(tariff_id=row.tariff_id, version=row.version, currency=row.currency,
                            created_at=row.created_at,
                            prices=[p.summary for p in lines])


async def _exact(request: Request, field: str) -> Any:
    data = loads(await request.body())
    if not isinstance(data, dict) or not isinstance(data.get(field), dict):
        raise BadRequest(f"{field}: expected a JSON object")
    return data[field]


@router.get("/tariffs")
def tariffs(request: Request, who: Staff) -> list[TariffVersionOut]:
    return [_version_out(r) for r in TariffAdmin(context_of(request).db, who.network).versions()]


@router.get("/tariffs/{tariff_id}")
def tariff_versions(request: Request, who: Staff, tariff_id: Name) -> list[TariffVersionOut]:
    admin = TariffAdmin(context_of(request).db, who.network)
    admin.owns(tariff_id)
    return [_version_out(r) for r in admin.versions(tariff_id)]


@router.post("/tariffs", status_code=201)
async def store_tariff(request: Request, who: Admin, body: TariffIn) -> TariffVersionOut:
    """Store a tariff version (new `last_updated` = new version) and assign it."""
    ctx = context_of(request)
    admin = TariffAdmin(ctx.db, who.network)
    stored = admin.store(await _exact(request, "tariff"), body.station_id, body.evse_id,
                         body.valid_from, ctx.clock())  # fmt: skip
    return next(_version_out(r) for r in admin.versions(stored.tariff_id)
                if r.version == stored.version)  # fmt: skip


@router.post("/tariffs/{tariff_id}/groups", status_code=201)
def assign_group(request: Request, who: Admin, tariff_id: Name, body: GroupIn) -> dict[str, str]:
    """Give a customer group (id tokens' `group_id`) this tariff on your network."""
    ctx = context_of(request)
    row = TariffAdmin(ctx.db, who.network).assign_group(tariff_id, body.version, body.group_id,
                                                        body.valid_from, ctx.clock())
    return {"tariff_id": tariff_id, "version": body.version, "group_id": row.group_id}


@router.post("/tariffs/preview")
async def preview_tariff(request: Request, who: Staff, body: PreviewIn) -> PreviewOut:
    """Price a sample session with a draft tariff (nothing is stored)."""
    tariff = parse(await _exact(request, "tariff"))
    s = body.sample
    priced = preview(tariff, SampleSession(s.start, s.energy_kwh, s.charging_minutes,
                                           s.parking_minutes, s.time_zone))
    total = priced.document_total
    lines = [LineOut(kind=line.kind.value, quantity=f"{line.quantity:f}", unit=line.unit,
                     amount_excl_vat=_m(line.rounded().excl_vat),
                     amount_incl_vat=_m(line.rounded().incl_vat)) for line in priced.lines]
    return PreviewOut(total_excl_vat=_m(total.excl_vat), total_incl_vat=_m(total.incl_vat),
                      energy_kwh=f"{priced.total_energy:f}", lines=lines,
                      prices=[p.summary for p in describe_tariff(tariff)])


def _m(value: Any) -> MoneyOut:
    out = money_out(value)
    assert out is not None
    return out
