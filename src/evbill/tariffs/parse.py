"""`parse_tariff`: Tariff JSON → validated `Tariff`, or `TariffError` naming the field."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from evbill.money import UnknownCurrency, minor_unit
from evbill.tariffs.fields import FieldError, Reader
from evbill.tariffs.model import (
    DayOfWeek,
    DisplayText,
    EnergyMix,
    EnergySource,
    EnergySourceCategory,
    EnvironmentalImpact,
    EnvironmentalImpactCategory,
    PriceComponent,
    ReservationRestrictionType,
    Tariff,
    TariffDimensionType,
    TariffElement,
    TariffPrice,
    TariffRestrictions,
    TariffType,
)

__all__ = ["TariffError", "parse_tariff"]

_HUNDRED: Final = Decimal(100)


class TariffError(ValueError):
    """A tariff that cannot be used; the message is `<field path>: <reason>`."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def parse_tariff(data: Mapping[str, Any]) -> Tariff:
    """Validate an OCPI 2.2.1 Tariff object (as decoded JSON) and build the `Tariff` value."""
    try:
        return _tariff(Reader(data, ""))
    except FieldError as err:
        raise TariffError(err.path, err.reason) from None


def _tariff(r: Reader) -> Tariff:
    currency = r.string("currency", min_len=3, max_len=3)
    try:
        minor_unit(currency)
    except UnknownCurrency:
        raise FieldError(r.at("currency"),
                         f"{currency!r} is not a supported ISO 4217 code") from None
    elements = tuple(_element(Reader(v, p)) for p, v in r.items("elements", required=True,
                                                                 non_empty=True))
    tariff = Tariff(
        country_code=r.string("country_code", min_len=2, max_len=2),
        party_id=r.string("party_id", min_len=3, max_len=3),
        id=r.string("id", max_len=36),
        currency=currency,
        elements=elements,
        last_updated=r.date_time("last_updated"),
        type=r.opt_enum("type", TariffType),
        tariff_alt_text=tuple(_display_text(Reader(v, p))
                              for p, v in r.items("tariff_alt_text", required=False)),
        tariff_alt_url=_url(r),
        min_price=_price(r.child("min_price")),
        max_price=_price(r.child("max_price")),
        start_date_time=r.opt_datetime("start_date_time"),
        end_date_time=r.opt_datetime("end_date_time"),
        energy_mix=_energy_mix(r.child("energy_mix")),
    )
    _check_tariff(r, tariff)
    return tariff


def _check_tariff(r: Reader, t: Tariff) -> None:
    if t.min_price is not None and t.max_price is not None:
        if t.min_price.excl_vat > t.max_price.excl_vat:
            raise FieldError(r.at("min_price.excl_vat"),
                             f"{t.min_price.excl_vat} is above max_price.excl_vat")
        low, high = t.min_price.incl_vat, t.max_price.incl_vat
        if low is not None and high is not None and low > high:
            raise FieldError(r.at("min_price.incl_vat"), f"{low} is above max_price.incl_vat")
    if t.start_date_time and t.end_date_time and t.start_date_time >= t.end_date_time:
        raise FieldError(r.at("end_date_time"), "is not after start_date_time")


def _url(r: Reader) -> str | None:
    url = r.opt_string("tariff_alt_url", max_len=2048)
    if url is not None and not url.startswith(("https://", "http://")):
        raise FieldError(r.at("tariff_alt_url"), f"{url!r} is not an http(s) URL")
    return url


def _display_text(r: Reader) -> DisplayText:
    return DisplayText(language=r.string("language", min_len=2, max_len=2),
                       text=r.string("text", max_len=512))


def _price(r: Reader | None) -> TariffPrice | None:
    if r is None:
        return None
    price = TariffPrice(excl_vat=r.number("excl_vat"), incl_vat=r.opt_number("incl_vat"))
    if price.incl_vat is not None and price.incl_vat < price.excl_vat:
        raise FieldError(r.at("incl_vat"), f"{price.incl_vat} is below excl_vat {price.excl_vat}")
    return price


def _energy_mix(r: Reader | None) -> EnergyMix | None:
    if r is None:
        return None
    sources = []
    for path, value in r.items("energy_sources", required=False):
        s = Reader(value, path)
        sources.append(EnergySource(source=s.enum("source", EnergySourceCategory),
                                    percentage=_percent(s, "percentage")))
    impacts = []
    for path, value in r.items("environ_impact", required=False):
        i = Reader(value, path)
        impacts.append(EnvironmentalImpact(category=i.enum("category",
                                                           EnvironmentalImpactCategory),
                                           amount=i.number("amount")))
    return EnergyMix(
        is_green_energy=r.boolean("is_green_energy"),
        energy_sources=tuple(sources),
        environ_impact=tuple(impacts),
        supplier_name=r.opt_string("supplier_name", max_len=64),
        energy_product_name=r.opt_string("energy_product_name", max_len=64),
    )


def _percent(r: Reader, name: str) -> Decimal:
    value = r.number(name)
    if value > _HUNDRED:
        raise FieldError(r.at(name), f"{value} is above 100 percent")
    return value


def _element(r: Reader) -> TariffElement:
    components = tuple(_component(Reader(v, p))
                       for p, v in r.items("price_components", required=True, non_empty=True))
    restrictions_reader = r.child("restrictions")
    restrictions = None if restrictions_reader is None else _restrictions(restrictions_reader)
    if restrictions is not None and restrictions.reservation is not None:
        for i, c in enumerate(components):
            if c.type not in (TariffDimensionType.FLAT, TariffDimensionType.TIME):
                raise FieldError(f"{r.at('price_components')}[{i}].type",
                                 f"{c.type.value} cannot price a reservation (only FLAT and TIME)")
    return TariffElement(price_components=components, restrictions=restrictions)


def _component(r: Reader) -> PriceComponent:
    vat = r.opt_number("vat")
    if vat is not None and vat > _HUNDRED:
        raise FieldError(r.at("vat"), f"{vat} is above 100 percent")
    return PriceComponent(
        type=r.enum("type", TariffDimensionType),
        price=r.number("price"),
        step_size=r.integer("step_size"),
        vat=vat,
    )


def _restrictions(r: Reader) -> TariffRestrictions:
    days: list[DayOfWeek] = []
    for path, value in r.items("day_of_week", required=False):
        day = Reader._check_enum(path, value, DayOfWeek)
        if day in days:
            raise FieldError(path, f"{day.value} is listed twice")
        days.append(day)
    result = TariffRestrictions(
        start_time=r.opt_time("start_time"),
        end_time=r.opt_time("end_time"),
        start_date=r.opt_date("start_date"),
        end_date=r.opt_date("end_date"),
        min_kwh=r.opt_number("min_kwh"),
        max_kwh=r.opt_number("max_kwh"),
        min_current=r.opt_number("min_current"),
        max_current=r.opt_number("max_current"),
        min_power=r.opt_number("min_power"),
        max_power=r.opt_number("max_power"),
        min_duration=r.opt_integer("min_duration"),
        max_duration=r.opt_integer("max_duration"),
        day_of_week=tuple(days),
        reservation=r.opt_enum("reservation", ReservationRestrictionType),
    )
    _check_ranges(r, result)
    return result


def _check_ranges(r: Reader, t: TariffRestrictions) -> None:
    for low_name, high_name in (("min_kwh", "max_kwh"), ("min_current", "max_current"),
                                ("min_power", "max_power"), ("min_duration", "max_duration")):
        low, high = getattr(t, low_name), getattr(t, high_name)
        if low is not None and high is not None and low >= high:
            raise FieldError(r.at(high_name), f"{high} is not above {low_name} {low}"
                             " (the element could never apply)")
    if t.start_date is not None and t.end_date is not None and t.start_date >= t.end_date:
        raise FieldError(r.at("end_date"), f"{t.end_date} is not after start_date {t.start_date}"
                         " (end_date is exclusive)")
