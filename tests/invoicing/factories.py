"""Sample parties, sessions and documents for the invoicing tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from evbill.invoicing.compose import (
    BillingPeriod,
    Charge,
    ChargedSession,
    Issue,
    compose_invoice,
    compose_receipt,
)
from evbill.invoicing.model import ComponentKind, Document, Party
from evbill.invoicing.vat import VatTable

ISSUER = Party(
    name="Voltway Charging GmbH", street="Schillerstraße 12", postcode="10625", city="Berlin",
    country="DE", vat_id="DE123456789", registration="HRB 201234 B, Amtsgericht Charlottenburg",
    email="billing@voltway.example", phone="+49 30 1234567", iban="DE02120300000000202051",
)  # fmt: skip
CUSTOMER = Party(
    name="Blue Fleet Logistics BV", street="Keizersgracht 100", postcode="1015 AA",
    city="Amsterdam", country="NL", vat_id="NL123456789B01", email="ap@bluefleet.example",
)  # fmt: skip
DRIVER = Party(name="Erika Mustermann", street="Hauptstraße 5", postcode="80331",
               city="München", country="DE")  # fmt: skip

D = Decimal
NINETEEN = D("19")


def charged_session(
    n: int = 1, *, start: datetime | None = None, currency: str = "EUR", signed: bool = True,
    energy: str = "23.456", vat: Decimal | None = NINETEEN, country: str = "DE",
) -> ChargedSession:
    start = start or datetime(2026, 10, 3, 7, 15, tzinfo=UTC) + timedelta(hours=9 * n)
    kwh = D(energy)
    charges = (
        Charge(ComponentKind.FLAT, D(1), D("0.50"), D("0.50"), vat),
        Charge(ComponentKind.ENERGY, kwh, D("0.39"), kwh * D("0.39"), vat),
        Charge(ComponentKind.TIME, D("1.25"), D("1.20"), D("1.5"), vat),
        Charge(ComponentKind.PARKING_TIME, D("0.5"), D("6.00"), D("3.00"), vat),
    )
    return ChargedSession(
        reference=f"S{1000 + n}", station_id=f"DE*VWY*E{4100 + n % 7}", evse_id=str(1 + n % 2),
        address=f"Kurfürstendamm {20 + n % 9}, 10719 Berlin", country=country,
        time_zone="Europe/Berlin", start=start, end=start + timedelta(hours=1, minutes=45),
        charging_hours=D("1.25"), parking_hours=D("0.5"), energy_kwh=kwh,
        signed_meter=signed, currency=currency, charges=charges, cdr_id=f"CDR-{1000 + n}",
    )  # fmt: skip


def issue(customer: Party = CUSTOMER, account: str = "acct-blue",
          at: datetime | None = None) -> Issue:
    return Issue(issuer=ISSUER, customer=customer, operator_id="voltway", account_id=account,
                 issued_at=at or datetime(2026, 11, 1, 6, 0, tzinfo=UTC),
                 time_zone="Europe/Berlin", vat=VatTable.default())  # fmt: skip


PROOF = {
    "version": 1, "day": "2026-10-03",
    "entry_hash": "9f2c" + "ab" * 30, "leaf_hash": "17e0" + "cd" * 30, "index": 5,
    "tree_size": 12, "siblings": ["aa" * 32, "bb" * 32, "cc" * 32], "root": "d00d" + "ef" * 30,
}


def sample_invoice(sessions: int = 6, number: str = "INV-2026-000123") -> Document:
    items = [charged_session(n, signed=n % 3 != 0) for n in range(sessions)]
    doc = compose_invoice(issue(), BillingPeriod(2026, 10), items, currency="EUR",
                          payment_note="SEPA direct debit, mandate VW-0042")  # fmt: skip
    return doc.numbered(number)


def sample_receipt(number: str = "RCT-2026-000042") -> Document:
    doc = compose_receipt(issue(DRIVER, "drv-erika"), charged_session(1),
                          payment_note="Paid by Visa •••• 4242", proof=PROOF)  # fmt: skip
    return doc.numbered(number)
