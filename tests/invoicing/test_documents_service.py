"""Documents issued through the service and the real payment flows (SQLite and PostgreSQL):
the payment means each says is the real one (card brand and last four from the provider,
wallet paid), a credit note says where the money goes back, a billing profile names the
customer on full invoices, sessions at stations abroad go on their own country's invoice under
the VAT id valid there, and every one of them passes the official EN 16931 rules."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from evbill.accounts.profiles import CustomerProfile, ProfileStore
from evbill.cli import app
from evbill.invoicing.billing_run import prepare_run, work
from evbill.invoicing.cii import to_cii
from evbill.invoicing.compose import BillingPeriod
from evbill.invoicing.model import DocumentType
from evbill.invoicing.seed import SeedPlan, seed_month
from evbill.invoicing.service import InvoicingService
from evbill.invoicing.settings import (
    InvoicingSettings,
    IssuerNotConfigured,
    check_issuer,
)
from evbill.invoicing.ubl import to_ubl
from evbill.money import Money
from evbill.store.database import Database
from evbill.store.tables import SessionRow

from .en16931 import Validator, validator
from .test_auto_issue import World

NOW = datetime(2026, 11, 1, 5, 0, tzinfo=UTC)
OCTOBER = BillingPeriod(2026, 10)
runner = CliRunner()


@pytest.fixture(scope="session")
def rules() -> Validator:
    return validator()


def _valid(rules: Validator, *docs: object) -> None:
    for doc in docs:
        for xml in (to_cii(doc), to_ubl(doc)):  # type: ignore[arg-type]
            assert rules.fatal(xml) == [], xml.decode()[:400]


def test_card_receipt_and_its_credit_note_name_the_card(db: Database, rules: Validator) -> None:
    world = World(db)
    reference = world.references[0]
    world.pay_by_card(reference)
    [receipt] = world.documents()
    assert receipt.payment_means == "48" and receipt.paid
    assert receipt.payment_details == {"brand": receipt.payment_details["brand"],
                                       "last4": "4242"}  # fmt: skip
    assert receipt.payment_note.endswith("ending 4242")
    assert "4242424242424242" not in to_cii(receipt).decode()  # never more than the last four
    assert receipt.simplified  # the card payer has no billing profile
    world.payments.refund(reference, Money(Decimal("1.00"), "EUR"), reason="EVSE fault",
                          actor="ops", key="rf-card")  # fmt: skip
    [credit] = world.documents(DocumentType.CREDIT_NOTE)
    assert credit.payment_means == "48"
    assert credit.payment_details["refund_to"].startswith("refunded to the")
    assert credit.payment_details["refund_to"].endswith("ending 4242")
    assert credit.totals.gross == Decimal("1.00")
    assert credit.sessions[0].reference == reference  # the refunded session's own data
    _valid(rules, receipt, credit)


def test_wallet_receipt_is_paid_and_its_refund_goes_to_the_wallet(
    db: Database, rules: Validator
) -> None:
    world = World(db)
    reference = world.references[1]
    world.pay_from_wallet(reference)
    [receipt] = world.documents()
    assert (receipt.payment_means, receipt.paid) == ("ZZZ", True)
    world.payments.refund(reference, None, reason="goodwill", actor="ops", key="rf-w")
    [credit] = world.documents(DocumentType.CREDIT_NOTE)
    assert credit.payment_details["refund_to"] == "credited to the prepaid wallet"
    assert credit.totals.gross == receipt.totals.gross
    _valid(rules, receipt, credit)


def test_profile_names_the_customer_and_stations_abroad_get_their_own_invoice(
    db: Database, rules: Validator
) -> None:
    settings = InvoicingSettings(vat_registrations="AT=ATU99999999")
    service = InvoicingService(db, settings)
    with db.sessions() as s:
        seed_month(s, SeedPlan(accounts=1, sessions_per_account=6), now=NOW)
        s.execute(update(SessionRow).where(SessionRow.id % 2 == 0)
                  .values(time_zone="Europe/Vienna"))  # fmt: skip
        s.commit()
    ProfileStore(db).set("acct-000000", CustomerProfile.of(
        name="Blue Fleet GmbH", address="Ring 1", postcode="10115", city="Berlin",
        country="DE"), now=NOW)  # fmt: skip
    prepare_run(service, OCTOBER, now=NOW)
    work(service, OCTOBER, worker="w", now=lambda: NOW, pdf=False)
    with db.sessions() as s:
        docs = service.issue_invoices_in(s, "acct-000000", "EUR", OCTOBER, NOW)
    assert [(d.supply_country, d.issuer.vat_id, len(d.sessions)) for d in docs] == [
        ("DE", settings.issuer_vat_id, 3), ("AT", "ATU99999999", 3)]
    assert {d.totals.by_rate[0].rate for d in docs} == {Decimal("19"), Decimal("20")}
    for doc in docs:
        assert doc.customer.name == "Blue Fleet GmbH" and not doc.simplified
        assert doc.payment_means == "58" and doc.issuer.iban
    _valid(rules, *docs)


def test_taxed_abroad_without_registration_or_oss_is_refused(db: Database) -> None:
    service = InvoicingService(db, InvoicingSettings())
    with db.sessions() as s:
        seed_month(s, SeedPlan(accounts=1, sessions_per_account=2), now=NOW)
        s.execute(update(SessionRow).values(time_zone="Europe/Paris"))
        s.commit()
    with db.sessions() as s, pytest.raises(Exception, match="EVBILL_INVOICE_VAT_REGISTRATIONS"):
        service.issue_invoices_in(s, "acct-000000", "EUR", OCTOBER, NOW)


def test_the_placeholder_issuer_is_refused_outside_the_demo() -> None:
    placeholder = InvoicingSettings(issuer_street="Musterstraße 1", issuer_vat_id="DE000000000")
    with pytest.raises(IssuerNotConfigured, match="_ISSUER_STREET"):
        check_issuer(placeholder)
    check_issuer(placeholder.model_copy(update={"demo": True}))
    check_issuer(InvoicingSettings())  # the test issuer (tests/conftest.py)


def test_bill_refuses_to_start_with_the_placeholder_issuer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from evbill.invoicing.settings import get_invoicing_settings

    monkeypatch.setenv("EVBILL_INVOICE_ISSUER_STREET", "Musterstraße 1")
    get_invoicing_settings.cache_clear()
    try:
        result = runner.invoke(app, ["bill", "--period", "2026-10", "--no-pdf"])
    finally:
        monkeypatch.undo()
        get_invoicing_settings.cache_clear()
    assert result.exit_code == 2
    assert "placeholder" in result.output


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # one backend suffices
def test_profile_cli_sets_and_shows(db: Database) -> None:
    url = db.engine.url.render_as_string(hide_password=False)
    args = ["profile", "set", "drv-1", "--name", "Erika Mustermann", "--address",
            "Hauptstraße 5", "--postcode", "80331", "--city", "München", "--country", "de",
            "--vat-id", "DE123456789", "--database", url]  # fmt: skip
    first = runner.invoke(app, args)
    assert first.exit_code == 0 and "profile set" in first.output
    assert "unchanged" in runner.invoke(app, args).output
    shown = runner.invoke(app, ["profile", "show", "drv-1", "--database", url])
    assert shown.exit_code == 0 and '"country": "DE"' in shown.output
    bad = runner.invoke(app, [*args[:-2], "--vat-id", "x", "--database", url])
    assert bad.exit_code == 2 and "vat_id" in bad.output
    missing = runner.invoke(app, ["profile", "show", "nobody", "--database", url])
    assert missing.exit_code == 1


def test_reverse_charged_fleet_is_charged_no_vat_like_its_invoice(db: Database) -> None:
    from sqlalchemy import select

    from evbill.payments.charges import ChargeSource
    from evbill.store.tables import CdrRow

    settings = InvoicingSettings()
    with db.sessions() as s:
        seed_month(s, SeedPlan(accounts=1, sessions_per_account=2, charges=False), now=NOW)
        s.execute(update(SessionRow).values(time_zone="Europe/Vienna"))
        s.commit()
    ProfileStore(db).set("acct-000000", CustomerProfile.of(
        name="Donau Fleet GmbH", address="Praterstraße 1", postcode="1020", city="Wien",
        country="AT", vat_id="ATU12345678"), now=NOW)  # fmt: skip
    with db.read_sessions() as s:
        cdr_id = s.scalars(select(CdrRow.id).order_by(CdrRow.id)).first()
    assert cdr_id is not None
    source = ChargeSource(db, settings)
    charge = source.charge(cdr_id, cdr_id, "acct-000000")
    assert charge.net.amount > 0 and sum(v.amount.amount for v in charge.vat) == 0
    with pytest.raises(Exception, match="AT"):  # anonymous in Austria: no AT registration
        source.charge(cdr_id, cdr_id)
