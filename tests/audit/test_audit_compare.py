"""The audit's pure comparison core: when sources agree, and how each disagreement reads."""

from __future__ import annotations

from decimal import Decimal

import pytest

from evbill.audit.compare import (
    AuditReport,
    DocumentAudit,
    Figures,
    SessionAudit,
    Source,
    compare_document,
    compare_session,
)
from evbill.audit.rated import rated_net

D = Decimal


def _paid(net: str, vat: str, *, refund: str = "0", refund_vat: str = "0") -> Figures:
    f = Figures(net=D(net), present=True, refund_gross=D(refund))
    f.add_vat("19.0", D(vat))
    if D(refund_vat):
        f.add_vat("19", D(refund_vat), refund=True)
    return f


def _audit(rated: str = "10.0049", allowance: str = "0.01") -> SessionAudit:
    audit = SessionAudit("CDR-1", "EUR", allowance=D(allowance))
    audit.figures[Source.RATED] = Figures(net=D(rated), present=True)
    for source in (Source.CHARGED, Source.DOCUMENTED, Source.BOOKED):
        audit.figures[source] = _paid("10.00", "1.90")
    return audit


def test_agreeing_sources_and_rated_within_its_rounding_allowance() -> None:
    assert compare_session(_audit()) == []
    assert compare_session(SessionAudit("free", "EUR")) == []  # nothing anywhere, nothing owed


def test_rated_beyond_the_allowance_is_a_net_mismatch_naming_every_source() -> None:
    [m] = compare_session(_audit(rated="10.50"))
    assert str(m) == ("session CDR-1 EUR net: rated 10.50, charged 10.00, documented 10.00, "
                      "booked 10.00")


@pytest.mark.parametrize("missing", [Source.CHARGED, Source.DOCUMENTED, Source.BOOKED])
def test_a_missing_source_reads_none(missing: Source) -> None:
    audit = _audit()
    del audit.figures[missing]
    found = [str(m) for m in compare_session(audit)]
    assert f"{missing.value} none" in found[0] and found[0].startswith("session CDR-1 EUR net:")
    assert found[1].startswith("session CDR-1 EUR VAT 19%:") and f"{missing.value} none" in found[1]


def test_vat_per_rate_and_refunds_are_compared() -> None:
    audit = _audit()
    audit.figures[Source.BOOKED].add_vat("7", D("0.70"))
    audit.figures[Source.DOCUMENTED] = _paid("10.00", "1.90", refund="2.00", refund_vat="0.32")
    audit.figures[Source.BOOKED].refund_gross = D("2.00")
    audit.figures[Source.BOOKED].add_vat("19", D("0.31"), refund=True)
    found = [str(m) for m in compare_session(audit)]
    assert found == [
        "session CDR-1 EUR VAT 7%: charged 0, documented 0, booked 0.70",
        "session CDR-1 EUR refund: charged 0, documented 2.00, booked 2.00",
        "session CDR-1 EUR refund VAT 19%: documented 0.32, booked 0.31",
    ]


def test_rated_net_and_allowance_from_a_stored_cdr() -> None:
    cdr = {"total_cost": {"excl_vat": D("7.5960")},
           "total_energy_cost": {"excl_vat": D("4.5960")},
           "total_reservation_cost": {"excl_vat": D("3.0000")},
           "tariffs": [{"elements": [{}, {}]}]}
    assert rated_net(cdr, "EUR") == (D("7.5960"), D("0.020"))  # 2 elements x 2 dimensions
    assert rated_net({"total_energy_cost": {"excl_vat": D("1.5")}}, "JPY") == (D("1.5"), D("0.5"))


def test_the_summary_line() -> None:
    report = AuditReport(sessions=3, payments=3, documents=4, postings=4)
    assert report.ok
    assert report.summary() == ("audit: 3 sessions, 3 payments, 4 documents, 4 ledger "
                                "transactions: 0 mismatches")


def test_a_session_on_an_invoice_compares_vat_between_charge_and_ledger_only() -> None:
    audit = _audit()
    audit.figures[Source.DOCUMENTED] = _paid("10.00", "1.89")  # its shared-out line VAT
    assert [str(m) for m in compare_session(audit)] == [
        "session CDR-1 EUR VAT 19%: charged 1.90, documented 1.89, booked 1.90"]
    audit.invoice = "INV-1"
    assert compare_session(audit) == []
    audit.figures[Source.BOOKED] = _paid("10.00", "1.91")
    assert [str(m) for m in compare_session(audit)] == [
        "session CDR-1 EUR VAT 19%: charged 1.90, booked 1.91"]


def _invoice(documented: str, charged: str, booked: str, adjustment: str | None) -> DocumentAudit:
    doc = DocumentAudit("INV-1", "EUR")
    doc.add(doc.documented, "19.00", D(documented))
    doc.add(doc.charged, "19", D(charged))
    doc.add(doc.booked, "19", D(booked))
    if adjustment is not None:
        doc.adjust("19", D(adjustment))
    return doc


@pytest.mark.parametrize(("documented", "charged", "booked", "adjustment", "expected"), [
    ("11.40", "12.00", "12.0", "-0.60", None),
    ("12.00", "12.00", "12.00", None, None),  # nothing to adjust, nothing booked
    ("11.40", "12.00", "12.00", None, "documented 11.40, charged 12.00, booked 12.00, "
                                      "rounding adjustment none"),
    ("11.41", "12.00", "12.00", "-0.60", "documented 11.41, charged 12.00, booked 12.00, "
                                         "rounding adjustment -0.60"),
    ("11.40", "12.00", "11.99", "-0.60", "documented 11.40, charged 12.00, booked 11.99, "
                                         "rounding adjustment -0.60"),
    ("11.40", "12.00", "12.00", "-0.599", "documented 11.40, charged 12.00, booked 12.00, "
                                          "rounding adjustment -0.599"),  # sub-cent: caught
])  # fmt: skip
def test_an_invoice_vat_is_documented_charged_plus_adjustment_booked_plus_adjustment(
        documented: str, charged: str, booked: str, adjustment: str | None,
        expected: str | None) -> None:
    found = [str(m) for m in compare_document(_invoice(documented, charged, booked, adjustment))]
    assert found == ([] if expected is None else [
        f"document INV-1 EUR VAT 19%: {expected} (documented must equal charged + adjustment "
        "= booked + adjustment)"])
