"""The pricing rules: which component prices each segment, step_size, VAT, min/max price.

Rules follow OCPI 2.2.1 (mod_tariffs; mod_cdrs §step_size); every choice where the spec is
ambiguous is written down in docs/pricing.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal
from typing import Final

from evbill.rating.compiled import Candidate, CompiledTariff
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


#: The component that prices each dimension of one segment (None: not used or free):
#: (energy, time, parking, reservation time, flat). A plain tuple: one is built per segment.
Choice = tuple[Candidate | None, Candidate | None, Candidate | None, Candidate | None,
               Candidate | None]


def _first(cands: tuple[Candidate, ...], seg: Segment) -> Candidate | None:
    for cand in cands:
        element = cand.element
        if element.unrestricted or element.matches(seg):
            return cand
    return None


def select(ct: CompiledTariff, segs: Sequence[Segment], expired: bool) -> list[Choice]:
    """For each segment and dimension, the first matching element's component (tariff order)."""
    energy_c, time_c, parking_c, flat_c = ct.energy, ct.time, ct.parking, ct.flat
    res_time_c, res_flat_c = ct.reservation_time[expired], ct.reservation_flat[expired]
    energy_fixed, time_fixed, parking_fixed, flat_fixed = ct.fixed
    out: list[Choice] = []
    for seg in segs:
        if seg.reservation:
            time = _first(res_time_c, seg) if seg.reservation_s and res_time_c else None
            out.append((None, None, None, time, _first(res_flat_c, seg) if res_flat_c else None))
            continue
        # the loops are written out: this runs for every segment of every session
        energy = time = parking = None
        if seg.energy_wh:
            energy = energy_fixed
            if energy is None:
                for cand in energy_c:
                    if cand.element.unrestricted or cand.element.matches(seg):
                        energy = cand
                        break
        if seg.charging_s:
            time = time_fixed
            if time is None:
                for cand in time_c:
                    if cand.element.unrestricted or cand.element.matches(seg):
                        time = cand
                        break
        if seg.parking_s:
            parking = parking_fixed
            if parking is None:
                for cand in parking_c:
                    if cand.element.unrestricted or cand.element.matches(seg):
                        parking = cand
                        break
        flat = flat_fixed
        if flat is None:
            for cand in flat_c:
                if cand.element.unrestricted or cand.element.matches(seg):
                    flat = cand
                    break
        out.append((energy, time, parking, None, flat))
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
            if prev.power_min_kw != seg.power_min_kw or prev.power_max_kw != seg.power_max_kw:
                prev.power_min_kw = _lower(prev.power_min_kw, seg.power_min_kw)
                prev.power_max_kw = _upper(prev.power_max_kw, seg.power_max_kw)
            if prev.current_min != seg.current_min or prev.current_max != seg.current_max:
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


def price_lines(ct: CompiledTariff, segs: Sequence[Segment],
                choices: Sequence[Choice]) -> list[PricedLine]:
    """Accumulate volumes per component, apply step_size once per family, VAT, min/max price."""
    # A candidate always prices the same kind of line (compiled.Candidate.kind), so the
    # measured volume is kept per candidate, in order of first use.
    measured: dict[Candidate, Decimal] = {}
    last_energy = last_time = last_parking = last_reserved = None
    flat: Candidate | None = None
    res_flat: Candidate | None = None
    for seg, (energy, time, parking, reserved, fee) in zip(segs, choices,
                                                                strict=True):
        if energy is not None:
            measured[energy] = measured.get(energy, ZERO) + seg.energy_wh
            last_energy = energy
        if time is not None:
            measured[time] = measured.get(time, ZERO) + seg.charging_s
            last_time = time
        if parking is not None:
            measured[parking] = measured.get(parking, ZERO) + seg.parking_s
            last_parking = parking
        if reserved is not None:
            measured[reserved] = measured.get(reserved, ZERO) + seg.reservation_s
            last_reserved = reserved
        if fee is not None:
            if seg.reservation:
                res_flat = res_flat or fee
            else:
                flat = flat or fee
    lines: list[PricedLine] = []
    for fee in (flat, res_flat):
        if fee is not None and fee.flat_line is not None:
            lines.append(fee.flat_line)
    if measured:
        # mod_cdrs §step_size: once for ENERGY, once for TIME+PARKING_TIME (parking if used)
        extra: dict[Candidate, Decimal] = {}
        for tail in (last_energy, last_reserved,
                     last_parking if last_parking is not None else last_time):
            if tail is not None:
                _step_extra(tail, measured, extra)
        currency = ct.tariff.currency
        volume = [_volume_line(cand, amount, extra.get(cand), currency)
                  for cand, amount in measured.items()]
        if len(volume) > 1 and len({line.kind for line in volume}) > 1:
            volume.sort(key=_kind_order)  # stable: first use order within a kind
        lines += volume
    if not ct.bounded:
        return lines
    tariff = ct.tariff
    return lines + _bounds(lines, tariff.min_price, tariff.max_price, tariff.currency)


def _kind_order(line: PricedLine) -> int:
    return _ORDER[line.kind]


def _step_extra(tail: Candidate, measured: dict[Candidate, Decimal],
                extra: dict[Candidate, Decimal]) -> None:
    """The quantity the family of `tail` (its line kind) bills above its session total."""
    step = tail.step
    if step <= 0:
        return
    kind = tail.kind
    total = ZERO
    for cand, amount in measured.items():
        if cand.kind is kind:
            total += amount
    if total <= 0:
        return
    clean = total.quantize(_DUST, ROUND_HALF_EVEN)
    billed = (clean / step).to_integral_value(ROUND_CEILING) * step
    if billed > total:
        extra[tail] = billed - total


def _volume_line(cand: Candidate, measured: Decimal, extra: Decimal | None,
                 currency: str) -> PricedLine:
    unit, price, vat = cand.unit, cand.price, cand.vat
    billed = measured + (ZERO if extra is None else extra)
    amount = billed * price / unit
    return PricedLine(cand.kind, billed / unit, measured / unit, price, vat, amount,
                      amount if vat is None else amount + amount * vat / _HUNDRED, currency,
                      cand.element.index, cand.component.step_size)


def _bounds(lines: list[PricedLine], low: TariffPrice | None, high: TariffPrice | None,
            currency: str) -> list[PricedLine]:
    """Adjustment lines that bring the totals into [min_price, max_price] (excl and incl VAT)."""
    if low is None and high is None:
        return []
    excl = incl = ZERO
    for line in lines:
        excl += line.amount_excl_vat
        incl += line.amount_incl_vat
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
