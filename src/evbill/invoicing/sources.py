"""Where charged sessions come from: the store's CDRs, sessions, stations and payment charges.

A CDR is stored as OCPI JSON. Its document lines are the priced CDR's own lines (`breakdown`,
written by rating: every component, reservation fees, min/max price adjustments, each with
its exact amount and VAT rate), so a document totals exactly what was rated. A CDR without a
breakdown (a partner's, or one rated before it was stored) is rebuilt from its OCPI totals:
one line per dimension, reservation cost, and the difference to `total_cost` as a min/max
price adjustment. The place of supply is the station's country (`place_of_supply`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from evbill.accounts.profiles import profile_of
from evbill.invoicing.compose import Charge, ChargedSession
from evbill.invoicing.model import ComponentKind, DocumentError, Party
from evbill.invoicing.place_of_supply import station_country
from evbill.invoicing.tables import DocumentRow, DocumentSessionRow
from evbill.payments.tables import PaymentChargeRow
from evbill.store.references import cdr_for_reference
from evbill.store.tables import CdrRow, SessionRow, StationRow

__all__ = ["SessionNotBillable", "charged_session", "customer_party", "postpaid_accounts",
           "uninvoiced_sessions"]

_DIMENSIONS = (
    (ComponentKind.FLAT, "total_fixed_cost", None),
    (ComponentKind.ENERGY, "total_energy_cost", "total_energy"),
    (ComponentKind.TIME, "total_time_cost", "charging_time"),
    (ComponentKind.PARKING_TIME, "total_parking_cost", "total_parking_time"),
)


class SessionNotBillable(DocumentError):
    """The session has no CDR (not rated yet) or its CDR cannot be read."""


def _tariff_component(cdr: dict[str, Any], kind: ComponentKind) -> dict[str, Any] | None:
    for tariff in cdr.get("tariffs") or []:
        for element in tariff.get("elements") or []:
            for component in element.get("price_components") or []:
                if component.get("type") == kind.value:
                    return dict(component)
    return None


def charges_from_breakdown(lines: list[dict[str, Any]]) -> tuple[Charge, ...]:
    """The rated lines as stored by `PricedCdr.to_ocpi(breakdown=True)`, exact amounts."""
    charges = []
    for line in lines:
        exact = line.get("exact_excl_vat", line.get("amount_excl_vat"))
        if exact is None or Decimal(exact) == 0:
            continue
        vat = line.get("vat")
        charges.append(Charge(ComponentKind(str(line["type"])), Decimal(line["quantity"]),
                              Decimal(line["unit_price"]), Decimal(exact),
                              None if vat is None else Decimal(vat)))  # fmt: skip
    return tuple(charges)


def charges_of(cdr: dict[str, Any]) -> tuple[Charge, ...]:
    """The CDR's own lines when rating stored them, else rebuilt from its totals."""
    breakdown = cdr.get("breakdown")
    if isinstance(breakdown, list) and breakdown:
        return charges_from_breakdown(breakdown)
    return charges_from_ocpi(cdr)


def _excl(cdr: dict[str, Any], field: str) -> Decimal:
    cost = cdr.get(field)
    return Decimal(cost["excl_vat"]) if cost else Decimal(0)


def charges_from_ocpi(cdr: dict[str, Any]) -> tuple[Charge, ...]:
    """One charge per OCPI cost dimension with a non-zero cost (or a configured flat fee),
    the reservation cost, and what `total_cost` adds or takes beyond them (min/max price)."""
    charging = Decimal(cdr.get("total_time", 0)) - Decimal(cdr.get("total_parking_time", 0))
    quantities = {"total_energy": Decimal(cdr.get("total_energy", 0)),
                  "charging_time": charging,
                  "total_parking_time": Decimal(cdr.get("total_parking_time", 0))}
    charges = []
    for kind, cost_field, quantity_field in _DIMENSIONS:
        cost = cdr.get(cost_field)
        if not cost or Decimal(cost["excl_vat"]) == 0:
            continue
        net = Decimal(cost["excl_vat"])
        quantity = quantities[quantity_field] if quantity_field else Decimal(1)
        component = _tariff_component(cdr, kind)
        price = Decimal(component["price"]) if component else (
            net / quantity if quantity else net)
        vat = component.get("vat") if component else None
        charges.append(Charge(kind, quantity, price, net,
                              None if vat is None else Decimal(vat)))
    reservation = _excl(cdr, "total_reservation_cost")
    if reservation:
        charges.append(Charge(ComponentKind.RESERVATION_FLAT, Decimal(1), reservation,
                              reservation, _first_vat(charges)))
    total = _excl(cdr, "total_cost")
    rest = total - sum((c.amount_excl_vat for c in charges), Decimal(0)) if total else Decimal(0)
    if rest:
        kind = ComponentKind.MIN_PRICE if rest > 0 else ComponentKind.MAX_PRICE
        charges.append(Charge(kind, Decimal(1), rest, rest, _first_vat(charges)))
    return tuple(charges)


def _first_vat(charges: list[Charge]) -> Decimal | None:
    return next((c.vat_rate for c in charges if c.vat_rate is not None), None)


def _load_cdr(s: Session, reference: str) -> tuple[CdrRow, SessionRow]:
    cdr = cdr_for_reference(s, reference)
    if cdr is None:
        raise SessionNotBillable(f"session {reference}: no CDR (not rated yet?)")
    row = s.get(SessionRow, cdr.session_id)
    assert row is not None  # a CDR's session_id is a foreign key
    return cdr, row


def charged_session(s: Session, reference: str, *, country: str) -> ChargedSession:
    """The session behind a payment reference (a CDR id, a session id or a session payment's
    reference: `evbill.store.references`) as a document sees it."""
    cdr_row, row = _load_cdr(s, reference)
    return _build(reference, cdr_row, row, s.get(StationRow, row.station_id), country)


def _build(reference: str, cdr_row: CdrRow, row: SessionRow, station: StationRow | None,
           country: str) -> ChargedSession:  # fmt: skip
    try:
        cdr = json.loads(cdr_row.ocpi_json, parse_float=Decimal)
    except ValueError as exc:
        raise SessionNotBillable(f"session {reference}: CDR JSON unreadable: {exc}") from exc
    end = row.stopped_at or datetime.fromisoformat(str(cdr["end_date_time"]))
    parking = Decimal(cdr.get("total_parking_time", 0))
    return ChargedSession(
        reference=reference, station_id=row.station_id, evse_id=str(row.evse_id),
        address=(station.address if station and station.address else row.station_id),
        country=station_country(cdr, row.time_zone, default=country),
        time_zone=row.time_zone, start=row.started_at, end=end,
        charging_hours=Decimal(cdr.get("total_time", 0)) - parking, parking_hours=parking,
        energy_kwh=Decimal(cdr.get("total_energy", 0)),
        signed_meter=cdr_row.energy_source == "signed", currency=cdr_row.currency,
        charges=charges_of(cdr), cdr_id=cdr_row.id,
    )  # fmt: skip


def customer_party(s: Session, account_id: str) -> Party | None:
    """The account's billing profile (accounts) as a document party; None: anonymous."""
    profile = profile_of(s, account_id)
    if profile is None:
        return None
    return Party(name=profile.name, street=profile.address, postcode=profile.postcode,
                 city=profile.city, country=profile.country, vat_id=profile.vat_id)


def postpaid_accounts(s: Session) -> list[tuple[str, str]]:
    """(account, currency) of every postpaid charge not yet on an invoice."""
    query = (select(PaymentChargeRow.account, PaymentChargeRow.currency)
             .where(PaymentChargeRow.method == "postpaid",
                    PaymentChargeRow.reference.not_in(_invoiced_references()))
             .distinct().order_by(PaymentChargeRow.account, PaymentChargeRow.currency))
    return [(account, currency) for account, currency in s.execute(query)]


def _invoiced_references() -> Any:
    return (select(DocumentSessionRow.reference)
            .join(DocumentRow, DocumentRow.id == DocumentSessionRow.document_id)
            .where(DocumentRow.doc_type == "INVOICE"))


def uninvoiced_sessions(
    s: Session, account: str, currency: str, until: datetime, *, country: str
) -> Sequence[ChargedSession]:
    """The account's postpaid sessions that ended before `until` and are on no invoice yet.

    One query loads charges with their CDR, session and station (references are CDR ids);
    a reference that is a session id instead falls back to `charged_session`.
    """
    query = (select(PaymentChargeRow.reference, CdrRow, SessionRow, StationRow)
             .outerjoin(CdrRow, CdrRow.id == PaymentChargeRow.reference)
             .outerjoin(SessionRow, SessionRow.id == CdrRow.session_id)
             .outerjoin(StationRow, StationRow.id == SessionRow.station_id)
             .where(PaymentChargeRow.method == "postpaid",
                    PaymentChargeRow.account == account,
                    PaymentChargeRow.currency == currency,
                    PaymentChargeRow.reference.not_in(_invoiced_references())))
    sessions = [
        _build(ref, cdr, row, station, country) if cdr is not None and row is not None
        else charged_session(s, ref, country=country)
        for ref, cdr, row, station in s.execute(query)
    ]  # fmt: skip
    return [session for session in sessions if session.end < until]
