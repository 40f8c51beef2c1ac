"""The pricing rules: which component prices each segment, step_size, VAT, min/max price.

Rules follow OCPI 2.2.1 (mod_tariffs; mod_cdrs §step_size); every choice where the spec is
ambiguous is written down in docs/pricing.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal
from typing import Final, NamedTuple

from evbill.rating.compiled import RESERVATION_ORDER, Candidate, CompiledTariff
from evbill.rating.segments import Segment
from evbill.rating.types import LineKind, PricedLine
from evbill.tariffs.model import TariffDimensionType, TariffPrice

__all__ = ["Choice", "merge", "price_lines", "select"]

ZERO: Final = Decimal(0)
_HUNDRED: Final = Decimal(100)
_THOUSAND: Final = Decimal(1000)
_HOUR: Final = Decimal(3600)
_DUST: Final = Decimal("0.000001")  # quantities are cleaned to 1 µWh / 1 µs before a ceiling

_D = TariffDimensionType


class Choice(NamedTuple):
    """The component that prices each dimension of one segment (None: not used or free)."""

    energy: Candidate | None
    time: Candidate | None
    parking: Candidate | None
    reservation_time: Candidate | None
    flat: Candidate | None


def _first(cands: tuple[Candidate, ...], seg: Segment) -> Candidate | None:
    for cand in cands:
        if cand.element.matches(seg):
            return cand
    return None


def _first_reservation(cands: tuple[Candidate, ...], seg: Segment,
                       expired: bool) -> Candidate | None:
    for wanted in RESERVATION_ORDER[expired]:
        for cand in cands:
            if cand.element.reservation is wanted and cand.element.matches(seg):
                return cand
    return None


def select(ct: CompiledTariff, segs: Sequence[Segment], expired: bool) -> list[Choice]:
    """For each segment and dimension, the first matching element's component (tariff order)."""
    by = ct.by_dimension
    energy_c, time_c, parking_c = by[_D.ENERGY], by[_D.TIME], by[_D.PARKING_TIME]
    flat_c = by[_D.FLAT]
    out: list[Choice] = []
    for seg in segs:
        if seg.reservation:
            time = _first_reservation(time_c, seg, expired) if seg.reservation_s else None
            out.append(Choice(None, None, None, time, _first_reservation(flat_c, seg, expired)))
            continue
        out.append(Choice(
            _first(energy_c, seg) if seg.energy_wh else None,
            _first(time_c, seg) if seg.charging_s else None,
            _first(parking_c, seg) if seg.parking_s else None,
            None,
            _first(flat_c, seg) if flat_c else None,
        ))
    return out


def merge(segs: list[Segment], choices: list[Choice]) -> tuple[list[Segment], list[Choice]]:
    """Join neighbours priced identically, so a CDR lists one period per change of price."""
    if not segs:
        return segs, choices
    out_s, out_c = [segs[0]], [choices[0]]
    for seg, choice in zip(segs[1:], choices[1:], strict=True):
        prev = out_s[-1]
        if choice == out_c[-1] and seg.reservation == prev.reservation and \
                bool(seg.charging_s) == bool(prev.charging_s) and \
                bool(seg.parking_s) == bool(prev.parking_s):
            prev.energy_wh += seg.energy_wh
            prev.charging_s += seg.charging_s
            prev.parking_s += seg.parking_s
            prev.reservation_s += seg.reservation_s
            prev.power_min_kw = _lower(prev.power_min_kw, seg.power_min_kw)
            prev.power_max_kw = _upper(prev.power_max_kw, seg.power_max_kw)
            prev.current_min = _lower(prev.current_min, seg.current_min)
            prev.current_max = _upper(prev.current_max, seg.current_max)
        else:
            out_s.append(seg)
            out_c.append(choice)
    return out_s, out_c


def _lower(a: Decimal | None, b: Decimal | None) -> Decimal | None:
    return None if a is None or b is None else min(a, b)


def _upper(a: Decimal | None, b: Decimal | None) -> Decimal | None:
    return None if a is None or b is None else max(a, b)


class _Acc:
    __slots__ = ("cand", "kind", "measured")

    def __init__(self, kind: LineKind, cand: Candidate) -> None:
        self.kind, self.cand, self.measured = kind, cand, ZERO


def price_lines(ct: CompiledTariff, segs: Sequence[Segment],
                choices: Sequence[Choice]) -> list[PricedLine]:
    """Accumulate volumes per component, apply step_size once per family, VAT, min/max price."""
    accs: dict[tuple[LineKind, int, int], _Acc] = {}
    last: dict[LineKind, _Acc] = {}
    flat: Candidate | None = None
    res_flat: Candidate | None = None

    def add(kind: LineKind, cand: Candidate, volume: Decimal) -> None:
        key = (kind, cand.element.index, cand.component_index)
        acc = accs.get(key)
        if acc is None:
            acc = accs[key] = _Acc(kind, cand)
        acc.measured += volume
        last[kind] = acc

    for seg, ch in zip(segs, choices, strict=True):
        if ch.energy is not None:
            add(LineKind.ENERGY, ch.energy, seg.energy_wh)
        if ch.time is not None:
            add(LineKind.TIME, ch.time, seg.charging_s)
        if ch.parking is not None:
            add(LineKind.PARKING_TIME, ch.parking, seg.parking_s)
        if ch.reservation_time is not None:
            add(LineKind.RESERVATION_TIME, ch.reservation_time, seg.reservation_s)
        if ch.flat is not None:
            if seg.reservation:
                res_flat = res_flat or ch.flat
            else:
                flat = flat or ch.flat

    extra = _step_extras(accs, last) if accs else {}
    currency = ct.tariff.currency
    lines = [] if flat is None else [_flat_line(LineKind.FLAT, flat, currency)]
    if res_flat is not None:
        lines.append(_flat_line(LineKind.RESERVATION_FLAT, res_flat, currency))
    volume = [_volume_line(acc, extra.get(id(acc), ZERO), currency) for acc in accs.values()]
    if len({line.kind for line in volume}) > 1:
        volume.sort(key=_kind_order)  # stable: first use order within a kind
    lines += volume
    tariff = ct.tariff
    if tariff.min_price is None and tariff.max_price is None:
        return lines
    return lines + _bounds(lines, tariff.min_price, tariff.max_price, currency)


def _kind_order(line: PricedLine) -> int:
    return _ORDER[line.kind]


def _step_extras(accs: dict[tuple[LineKind, int, int], _Acc],
                 last: dict[LineKind, _Acc]) -> dict[int, Decimal]:
    """mod_cdrs §step_size: once for ENERGY, once for TIME+PARKING_TIME (parking if used)."""
    families = [LineKind.ENERGY, LineKind.RESERVATION_TIME]
    families.append(LineKind.PARKING_TIME if LineKind.PARKING_TIME in last else LineKind.TIME)
    extra: dict[int, Decimal] = {}
    for kind in families:
        tail = last.get(kind)
        if tail is None:
            continue
        step = tail.cand.component.step_size
        total = sum((a.measured for a in accs.values() if a.kind is kind), ZERO)
        if step <= 0 or total <= 0:
            continue
        clean = total.quantize(_DUST, ROUND_HALF_EVEN)
        billed = (clean / step).to_integral_value(ROUND_CEILING) * step
        if billed > total:
            extra[id(tail)] = billed - total
    return extra


def _vat(amount: Decimal, vat: Decimal | None) -> Decimal:
    return amount if vat is None else amount + amount * vat / _HUNDRED


def _flat_line(kind: LineKind, cand: Candidate, currency: str) -> PricedLine:
    c = cand.component
    return PricedLine(kind, Decimal(1), Decimal(1), c.price, c.vat, c.price, _vat(c.price, c.vat),
                      currency, cand.element.index, None)


def _volume_line(acc: _Acc, extra: Decimal, currency: str) -> PricedLine:
    c = acc.cand.component
    unit = _THOUSAND if acc.kind is LineKind.ENERGY else _HOUR
    billed = acc.measured + extra
    amount = billed * c.price / unit
    return PricedLine(acc.kind, billed / unit, acc.measured / unit, c.price, c.vat, amount,
                      _vat(amount, c.vat), currency, acc.cand.element.index, c.step_size)


def _bounds(lines: list[PricedLine], low: TariffPrice | None, high: TariffPrice | None,
            currency: str) -> list[PricedLine]:
    """Adjustment lines that bring the totals into [min_price, max_price] (excl and incl VAT)."""
    if low is None and high is None:
        return []
    excl = sum((line.amount_excl_vat for line in lines), ZERO)
    incl = sum((line.amount_incl_vat for line in lines), ZERO)
    out = []
    for bound, kind, sign in ((low, LineKind.MIN_PRICE, 1), (high, LineKind.MAX_PRICE, -1)):
        if bound is None:
            continue
        d_excl = max(ZERO, (bound.excl_vat - excl) * sign) * sign
        if bound.incl_vat is None:
            d_incl = d_excl  # no incl bound: the adjustment carries no VAT (docs/pricing.md)
        else:
            d_incl = max(ZERO, (bound.incl_vat - incl) * sign) * sign
        if d_excl or d_incl:
            out.append(PricedLine(kind, Decimal(1), Decimal(1), d_excl, None, d_excl, d_incl,
                                  currency))
    return out


_ORDER: Final = {kind: i for i, kind in enumerate(LineKind)}
