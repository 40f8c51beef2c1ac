"""Composing receipts, monthly invoices and credit notes from charged sessions."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from evbill.invoicing.compose import (
    BillingPeriod,
    Charge,
    charges_from_lines,
    compose_credit_note,
    compose_invoice,
    compose_receipt,
    session_block,
)
from evbill.invoicing.model import ComponentKind, DocumentError, DocumentType, Party
from evbill.invoicing.vat import VatTable
from evbill.ledger.postings import VatLine
from evbill.money import Money
from evbill.payments.model import split_refund

from .factories import CUSTOMER, DRIVER, PROOF, charged_session, issue

D = Decimal


def test_receipt_of_one_session() -> None:
    doc = compose_receipt(issue(DRIVER, "drv-1"), charged_session(1), payment_note="Visa 4242",
                          proof=PROOF)  # fmt: skip
    assert doc.doc_type is DocumentType.RECEIPT and doc.paid and doc.number == ""
    assert doc.source_key == "receipt:S1001"
    assert doc.issue_date == date(2026, 11, 1)  # 06:00 UTC is 07:00 in Berlin
    block = doc.sessions[0]
    assert [line.kind for line in block.lines] == [
        ComponentKind.FLAT, ComponentKind.ENERGY, ComponentKind.TIME, ComponentKind.PARKING_TIME]
    assert [line.net for line in block.lines] == [D("0.50"), D("9.15"), D("1.50"), D("3.00")]
    # VAT on the sum of the line nets (BR-CO-17): 14.15 × 19 % = 2.6885 → 2.69
    assert (doc.totals.net, doc.totals.vat, doc.totals.gross) == (D("14.15"), D("2.69"),
                                                                 D("16.84"))  # fmt: skip
    assert block.local_start.strftime("%H:%M %Z") == "18:15 CEST"
    assert (doc.period_start, doc.period_end) == (date(2026, 10, 3), date(2026, 10, 3))
    assert doc.proof == PROOF


def test_issue_date_follows_the_issuers_time_zone() -> None:
    late = datetime(2026, 10, 31, 23, 30, tzinfo=UTC)  # already 1 November in Berlin
    doc = compose_receipt(issue(at=late), charged_session(), payment_note="")
    assert doc.issue_date == date(2026, 11, 1)


def test_monthly_invoice_orders_sessions_and_sums_them() -> None:
    sessions = [charged_session(n) for n in (5, 2, 9)]
    doc = compose_invoice(issue(), BillingPeriod(2026, 10), sessions, currency="EUR")
    assert [b.reference for b in doc.sessions] == ["S1002", "S1005", "S1009"]
    assert doc.totals.gross == sum((b.gross for b in doc.sessions), D(0)) == D("50.52")
    assert (doc.period_start, doc.period_end) == (date(2026, 10, 1), date(2026, 10, 31))
    assert doc.due_date == date(2026, 11, 15)
    assert doc.source_key == "invoice:acct-blue:2026-10:EUR"


def test_invoice_refuses_mixed_currencies_and_no_sessions() -> None:
    with pytest.raises(DocumentError, match="currency: session S1002 is in CHF"):
        compose_invoice(issue(), BillingPeriod(2026, 10),
                        [charged_session(1), charged_session(2, currency="CHF")], currency="EUR")
    with pytest.raises(DocumentError, match="has none in 2026-10"):
        compose_invoice(issue(), BillingPeriod(2026, 10), [], currency="EUR")


def test_missing_vat_rate_comes_from_the_country_of_the_station() -> None:
    block = session_block(charged_session(vat=None, country="FR"), VatTable.default())
    assert {line.vat_rate for line in block.lines} == {D("20")}
    block = session_block(charged_session(vat=D("7")), VatTable.default())
    assert {line.vat_rate for line in block.lines} == {D("7")}


def test_full_credit_note_mirrors_the_original() -> None:
    original = compose_invoice(issue(), BillingPeriod(2026, 10),
                               [charged_session(1), charged_session(2)],
                               currency="EUR").numbered("INV-2026-000007")  # fmt: skip
    credit = compose_credit_note(issue(), original, refund_key="rf-1", reason="duplicate")
    assert credit.doc_type is DocumentType.CREDIT_NOTE
    assert credit.totals == original.totals
    assert (credit.corrects_number, credit.corrects_issue_date) == ("INV-2026-000007",
                                                                   original.issue_date)
    assert credit.source_key == "credit:rf-1"


def test_partial_credit_note_splits_like_the_payment_refund() -> None:
    s1 = charged_session(1, vat=D("19"))
    s2 = charged_session(2, vat=D("7"))
    original = compose_invoice(issue(), BillingPeriod(2026, 10), [s1, s2],
                               currency="EUR").numbered("INV-2026-000008")  # fmt: skip
    assert [(s.rate, s.taxable + s.vat) for s in original.totals.by_rate] == [
        (D("19"), D("16.84")), (D("7"), D("15.14"))]
    credit = compose_credit_note(issue(), original, refund_key="rf-2", reason="goodwill",
                                 amount=D("20.00"))  # fmt: skip
    first, second = credit.totals.by_rate
    assert (first.rate, first.taxable, first.vat) == (D("19"), D("8.85"), D("1.68"))
    assert (second.rate, second.taxable, second.vat) == (D("7"), D("8.85"), D("0.62"))
    assert credit.totals.gross == D("20.00")
    # the payments side books the same VAT when it refunds 20.00 of this charge
    vat = tuple(VatLine("DE", str(v.rate), Money(v.vat, "EUR")) for v in original.totals.by_rate)
    net, vat_back = split_refund(Money(original.totals.net, "EUR"), vat,
                                 Money(original.totals.gross, "EUR"), Money(D("20.00"), "EUR"))
    assert [v.amount.amount for v in vat_back] == [first.vat, second.vat]
    assert net.amount == credit.totals.net
    with pytest.raises(DocumentError, match="amount"):
        compose_credit_note(issue(), original, refund_key="rf-3", reason="x", amount=D("99"))


def test_credit_note_for_one_session_of_an_invoice() -> None:
    original = compose_invoice(issue(), BillingPeriod(2026, 10),
                               [charged_session(1), charged_session(2)],
                               currency="EUR").numbered("INV-2026-000009")  # fmt: skip
    credit = compose_credit_note(issue(), original, refund_key="rf-4", reason="EVSE fault",
                                 session="S1002")  # fmt: skip
    assert [b.reference for b in credit.sessions] == ["S1002"]
    # credited as the session was charged (VAT on its own nets), not its share of the
    # invoice's VAT: the refund gives back what the payment took (see `vat_rounding`)
    block = original.sessions[1]
    assert credit.totals.net == block.net == D("14.15")
    assert (block.vat, credit.totals.vat) == (D("2.70"), D("2.69"))  # 14.15 × 19 % = 2.6885
    assert credit.totals.gross == D("16.84")
    with pytest.raises(DocumentError, match="S9999 is not on INV-2026-000009"):
        compose_credit_note(issue(), original, refund_key="rf-5", reason="x", session="S9999")


def test_credit_note_needs_a_numbered_invoice() -> None:
    original = compose_invoice(issue(), BillingPeriod(2026, 10), [charged_session(1)],
                               currency="EUR")  # fmt: skip
    with pytest.raises(DocumentError, match="no number"):
        compose_credit_note(issue(), original, refund_key="r", reason="x")
    credit = compose_credit_note(issue(), original.numbered("INV-1"), refund_key="r",
                                 reason="x").numbered("CRN-1")  # fmt: skip
    with pytest.raises(DocumentError, match="corrects an invoice"):
        compose_credit_note(issue(), credit, refund_key="r2", reason="x")


def test_billing_period() -> None:
    period = BillingPeriod.parse("2026-12")
    assert (period.first_day, period.last_day, str(period.next())) == (
        date(2026, 12, 1), date(2026, 12, 31), "2027-01")
    start, end = BillingPeriod(2026, 10).bounds("Europe/Berlin")
    assert start.astimezone(UTC) == datetime(2026, 9, 30, 22, tzinfo=UTC)
    assert end.astimezone(UTC) == datetime(2026, 10, 31, 23, tzinfo=UTC)  # DST ended
    for bad in ("2026-13", "2026/10", "26-10"):
        with pytest.raises(DocumentError, match="period"):
            BillingPeriod.parse(bad)


def test_charges_from_rating_lines_are_structural() -> None:
    class Line:
        kind = "ENERGY"
        quantity = D("10")
        unit_price = D("0.4")
        vat = None
        amount_excl_vat = D("4.0")

    assert charges_from_lines([Line()]) == (
        Charge(ComponentKind.ENERGY, D("10"), D("0.4"), D("4.0"), None),)


def test_party_validation() -> None:
    with pytest.raises(DocumentError, match="country"):
        Party(name="X", street="s", postcode="1", city="c", country="Germany")
    with pytest.raises(DocumentError, match="name"):
        Party(name=" ", street="s", postcode="1", city="c", country="DE")
    assert Party.from_json(CUSTOMER.to_json()) == CUSTOMER


def test_partial_credit_note_keeps_each_refunded_sessions_own_data() -> None:
    sessions = [charged_session(n) for n in range(30)]
    original = compose_invoice(issue(), BillingPeriod(2026, 10), sessions,
                               currency="EUR").numbered("INV-2026-000030")  # fmt: skip
    credit = compose_credit_note(issue(), original, refund_key="rf-30", reason="outage",
                                 amount=D("100.00"))  # fmt: skip
    assert credit.totals.gross == D("100.00")
    assert [b.reference for b in credit.sessions] == [b.reference for b in original.sessions]
    for refunded, block in zip(credit.sessions, original.sessions, strict=True):
        assert (refunded.start, refunded.station_id, refunded.energy_kwh) == (
            block.start, block.station_id, block.energy_kwh)
        assert 0 < refunded.gross <= block.gross


def test_max_price_adjustment_prints_as_an_amount() -> None:
    from dataclasses import replace

    from evbill.invoicing.compose import Charge
    from evbill.invoicing.render_html import render_html

    capped = replace(charged_session(1), charges=(
        Charge(ComponentKind.ENERGY, D("100"), D("0.39"), D("39.00"), D("19")),
        Charge(ComponentKind.MAX_PRICE, D("1"), D("-19.00"), D("-19.00"), D("19"))))
    doc = compose_receipt(issue(DRIVER, "drv-1"), capped, payment_note="").numbered("RCT-1")
    assert doc.totals.net == D("20.00")
    html = render_html(doc)
    assert "Maximum price adjustment -€19.00" in html
    assert "× €-19" not in html and "× -€19" not in html
