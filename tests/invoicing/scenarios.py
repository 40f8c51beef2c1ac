"""Every document kind and VAT situation evbill issues, built through the library as the
service builds them: the cases the EN 16931 validation tests run through the official rules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from evbill.invoicing.compose import (
    BillingPeriod,
    Charge,
    ChargedSession,
    Issue,
    compose_credit_note,
    compose_invoice,
    compose_receipt,
)
from evbill.invoicing.model import ComponentKind, Document, Party
from evbill.invoicing.vat import VatTable
from evbill.invoicing.vat_rules import VatRules

from .factories import CUSTOMER, ISSUER, charged_session

D = Decimal
OCTOBER = BillingPeriod(2026, 10)
AT = Party(name="Donau Fleet GmbH", street="Praterstraße 1", postcode="1020", city="Wien",
           country="AT", vat_id="ATU12345678")  # fmt: skip
ANONYMOUS = Party(name="Customer adhoc-7f3a", street="", postcode="", city="", country="DE")
US_ISSUER = Party(name="Volt Roads Inc.", street="500 Market Street", postcode="94105",
                  city="San Francisco", country="US", email="billing@voltroads.example",
                  registration="EIN 12-3456789", iban="021000021-4455667788")  # fmt: skip
US_CUSTOMER = Party(name="Jane Doe", street="1 Main Street", postcode="94110",
                    city="San Francisco", country="US")  # fmt: skip
CH_CUSTOMER = Party(name="Alpen Taxi AG", street="Bahnhofstrasse 1", postcode="8001",
                    city="Zürich", country="CH")  # fmt: skip


def _rules(issuer: Party = ISSUER, **kw: object) -> VatRules:
    return replace(VatRules.for_issuer(issuer, VatTable.default()), **kw)  # type: ignore[arg-type]


def _issue(customer: Party = CUSTOMER, *, issuer: Party = ISSUER, account: str = "acct-blue",
           rules: VatRules | None = None) -> Issue:  # fmt: skip
    return Issue(issuer=issuer, customer=customer, operator_id="voltway", account_id=account,
                 issued_at=datetime(2026, 11, 1, 6, 0, tzinfo=UTC), time_zone="Europe/Berlin",
                 vat=VatTable.default(), rules=rules or _rules(issuer))  # fmt: skip


def _abroad(n: int, country: str, zone: str, currency: str = "EUR") -> ChargedSession:
    return replace(charged_session(n, vat=None, currency=currency), country=country,
                   time_zone=zone, station_id=f"{country}*VWY*E{n}",
                   address=f"Station {n}, {country}")  # fmt: skip


def _invoice(issue: Issue, sessions: list[ChargedSession], currency: str = "EUR",
             number: str = "INV-2026-000100", **kw: object) -> Document:  # fmt: skip
    kw.setdefault("payment_means", "58")
    return compose_invoice(issue, OCTOBER, sessions, currency=currency,
                           **kw).numbered(number)  # type: ignore[arg-type]


def card_receipt() -> Document:
    doc = compose_receipt(_issue(ANONYMOUS, account="adhoc-7f3a"), charged_session(1),
                          payment_note="Paid by Visa ending 4242", payment_means="48",
                          payment_details={"brand": "visa", "last4": "4242"})  # fmt: skip
    return doc.numbered("RCT-2026-000001")


def wallet_receipt() -> Document:
    driver = Party(name="Erika Mustermann", street="Hauptstraße 5", postcode="80331",
                   city="München", country="DE")  # fmt: skip
    doc = compose_receipt(_issue(driver, account="drv-erika"), charged_session(2),
                          payment_note="Paid from the prepaid wallet", payment_means="ZZZ",
                          payment_details={"wallet": "prepaid wallet"})  # fmt: skip
    return doc.numbered("RCT-2026-000002")


def small_invoice() -> Document:
    return _invoice(_issue(), [charged_session(n) for n in range(3)])


def invoice_400_sessions() -> Document:
    start = datetime(2026, 10, 1, 6, 0, tzinfo=UTC)
    sessions = [
        replace(charged_session(n, start=start + timedelta(minutes=90 * n)),
                charges=(Charge(ComponentKind.ENERGY, D("1.2821"), D("0.39"), D("0.50"),
                                D("19")),))
        for n in range(400)
    ]
    return _invoice(_issue(), sessions, number="INV-2026-000400")


def two_rates() -> Document:
    return _invoice(_issue(), [charged_session(1, vat=D("19")), charged_session(2, vat=D("7"))])


def zero_rated() -> Document:
    return _invoice(_issue(), [charged_session(1, vat=D("0")), charged_session(2)])


def cross_border_registered() -> Document:
    """Stations in Austria, the issuer registered there: Austrian VAT under its ATU id."""
    rules = _rules(registrations={"AT": "ATU99999999"})
    consumer = Party(name="Max Muster", street="Ring 1", postcode="1010", city="Wien",
                     country="AT")  # fmt: skip
    return _invoice(_issue(consumer, rules=rules),
                    [_abroad(n, "AT", "Europe/Vienna") for n in range(3)])


def cross_border_oss() -> Document:
    """Stations in France, the issuer under OSS: French VAT under the home VAT id."""
    rules = _rules(oss=True)
    return _invoice(_issue(replace(CUSTOMER, vat_id=None), rules=rules),
                    [_abroad(n, "FR", "Europe/Paris") for n in range(2)])


def reverse_charge() -> Document:
    """An Austrian fleet (ATU id) charging in Austria, billed by a German issuer: AE."""
    return _invoice(_issue(AT), [_abroad(n, "AT", "Europe/Vienna") for n in range(2)])


def exempt() -> Document:
    rules = _rules(exemption=("VATEX-EU-132", "Exempt under VAT Directive art. 132"))
    return _invoice(_issue(rules=rules), [charged_session(n) for n in range(2)])


def us_issuer_without_vat() -> Document:
    sessions = [_abroad(n, "US", "America/Los_Angeles", currency="USD") for n in range(2)]
    issue = _issue(US_CUSTOMER, issuer=US_ISSUER, rules=_rules(US_ISSUER))
    return _invoice(issue, sessions, currency="USD", payment_means="30")


def non_euro_currency() -> Document:
    """Swiss stations billed in CHF by an issuer registered for Swiss VAT."""
    rules = _rules(registrations={"CH": "CHE123456789"})
    sessions = [_abroad(n, "CH", "Europe/Zurich", currency="CHF") for n in range(2)]
    issuer = replace(ISSUER, iban="CH9300762011623852957")
    return _invoice(_issue(CH_CUSTOMER, issuer=issuer, rules=rules), sessions,
                    currency="CHF")  # fmt: skip


def direct_debit_invoice() -> Document:
    return _invoice(_issue(), [charged_session(4)], payment_means="59",
                    payment_details={"mandate": "VW-0042", "creditor_id": "DE98ZZZ09999999999",
                                     "debtor_iban": "NL91ABNA0417164300"})  # fmt: skip


def full_credit_note() -> Document:
    original = small_invoice()
    credit = compose_credit_note(
        _issue(), original, refund_key="rf-full", reason="duplicate billing",
        payment_means="97", payment_note="Set off against the next invoice",
        payment_details={"refund_to": "set off against the account's next invoice"})
    return credit.numbered("CRN-2026-000001")


def partial_credit_note() -> Document:
    original = _invoice(_issue(), [charged_session(n, vat=D("19") if n % 2 else D("7"))
                                   for n in range(30)])  # fmt: skip
    credit = compose_credit_note(
        _issue(), original, refund_key="rf-part", reason="goodwill", amount=D("100.00"),
        payment_means="58", payment_details={"refund_to": "transferred to your account"})
    return credit.numbered("CRN-2026-000002")


def card_refund_credit_note() -> Document:
    credit = compose_credit_note(
        _issue(ANONYMOUS, account="adhoc-7f3a"), card_receipt(), refund_key="rf-card",
        reason="EVSE fault", amount=D("5.00"), payment_means="48",
        payment_note="Refunded to the Visa ending 4242",
        payment_details={"brand": "visa", "last4": "4242",
                         "refund_to": "refunded to the Visa ending 4242"})
    return credit.numbered("CRN-2026-000003")


def reverse_charge_credit_note() -> Document:
    credit = compose_credit_note(_issue(AT), reverse_charge(), refund_key="rf-ae",
                                 reason="tariff error", amount=D("3.00"), payment_means="97",
                                 payment_details={"refund_to": "set off"})  # fmt: skip
    return credit.numbered("CRN-2026-000004")


SCENARIOS: dict[str, Callable[[], Document]] = {
    "anonymous card receipt": card_receipt,
    "wallet receipt": wallet_receipt,
    "small invoice": small_invoice,
    "400-session invoice": invoice_400_sessions,
    "two VAT rates": two_rates,
    "zero-rated line": zero_rated,
    "cross-border, registered abroad": cross_border_registered,
    "cross-border, OSS": cross_border_oss,
    "reverse charge": reverse_charge,
    "exempt": exempt,
    "US issuer without VAT": us_issuer_without_vat,
    "non-euro currency (CHF)": non_euro_currency,
    "SEPA direct debit invoice": direct_debit_invoice,
    "full credit note": full_credit_note,
    "partial credit note over 30 sessions": partial_credit_note,
    "card refund credit note": card_refund_credit_note,
    "reverse charge credit note": reverse_charge_credit_note,
}
