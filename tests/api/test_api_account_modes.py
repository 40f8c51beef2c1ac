"""Station sessions pay as the operator chose: the account's mode, else the network default for
accepted cards with an account; app driver accounts keep their own rules; with no mode at all
the session is rated and not charged. Set through `evbill accounts …`."""

from __future__ import annotations

from decimal import Decimal

from api_world import World
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from evbill.accounts.profiles import CustomerProfile, ProfileStore
from evbill.accounts.tokens import TokenRegistry
from evbill.api.context import ApiContext
from evbill.cli import app as cli_app
from evbill.invoicing.tables import DocumentRow, DocumentSessionRow
from evbill.payments.account_modes import AccountModes
from evbill.payments.settlement_pass import settle_due
from evbill.payments.tables import PaymentChargeRow, SessionPaymentRow
from evbill.sessions.commands import AuthorizationStatus, IdToken, StartSession, StopSession
from evbill.store.tables import CdrRow, SessionRow

DRIVER2_CARD = "CC33DD44"


def _charge(world: World, card: str, tx: str, wh: str = "2000") -> tuple[int, str]:
    assert world.service is not None
    world.clock.advance(minutes=5)
    started = world.service.start(StartSession(
        station_id="B-1", evse_id=1, connector_id=1, id_token=IdToken(card),
        meter_start_wh=Decimal(0), started_at=world.clock.now, transaction_ref=tx))
    if started.authorization.status is not AuthorizationStatus.ACCEPTED:
        return 0, started.authorization.status.value
    world.clock.advance(minutes=10)
    world.service.stop(StopSession(station_id="B-1", transaction_id=tx,
                                   stopped_at=world.clock.now, meter_stop_wh=Decimal(wh)))
    with world.db.read_sessions() as s:
        session_id, cdr_id = s.execute(select(SessionRow.id, CdrRow.id).join(
            CdrRow, CdrRow.session_id == SessionRow.id).where(
            SessionRow.transaction_id == tx)).one()
    return session_id, cdr_id


def _payment(world: World, session_id: int) -> SessionPaymentRow | None:
    with world.db.read_sessions() as s:
        return s.scalars(select(SessionPaymentRow)
                         .where(SessionPaymentRow.session_id == session_id)).first()


def test_a_card_pays_by_its_accounts_mode_else_by_the_network_default(
    client: TestClient, world: World, ctx: ApiContext
) -> None:
    modes = AccountModes(world.db, world.clock)
    tokens = TokenRegistry(world.db)
    tokens.add("FLEET-1", account="acme", now=world.clock.now)
    tokens.add("LOOSE-1", account="corner-shop", now=world.clock.now)
    tokens.add("NOACC-1", now=world.clock.now)
    session_id, _ = _charge(world, "LOOSE-1", "before-default")
    assert _payment(world, session_id) is None  # no mode, no default: rated, not charged

    modes.set("acme", "postpaid")
    session_id, cdr_id = _charge(world, "FLEET-1", "acme-1")
    payment = _payment(world, session_id)
    assert payment is not None and (payment.mode, payment.account, payment.status) == (
        "postpaid", "acme", "charged")
    with world.db.read_sessions() as s:
        charge = s.scalars(select(PaymentChargeRow)
                           .where(PaymentChargeRow.reference == cdr_id)).one()
    assert (charge.method, charge.account, charge.gross) == ("postpaid", "acme", Decimal("1.19"))

    modes.set_default("postpaid")
    session_id, _ = _charge(world, "LOOSE-1", "after-default")
    payment = _payment(world, session_id)
    assert payment is not None and (payment.mode, payment.account) == ("postpaid",
                                                                       "corner-shop")
    session_id, _ = _charge(world, "NOACC-1", "no-account")
    assert _payment(world, session_id) is None  # no account to bill


def test_a_wallet_account_meets_the_station_minimum(
    client: TestClient, world: World, ctx: ApiContext
) -> None:
    AccountModes(world.db, world.clock).set("prepaid-co", "wallet")
    TokenRegistry(world.db).add("PRE-1", account="prepaid-co", now=world.clock.now)
    assert ctx.payments.ctx.settings.wallet_minimum_for("B-1").amount == Decimal("10.00")
    _, answer = _charge(world, "PRE-1", "pre-1")
    assert answer == AuthorizationStatus.BLOCKED.value  # an empty wallet cannot start


def test_app_driver_accounts_keep_their_own_rules_under_a_network_default(
    client: TestClient, world: World, ctx: ApiContext
) -> None:
    AccountModes(world.db, world.clock).set_default("wallet")
    session_id, cdr_id = _charge(world, DRIVER2_CARD, "driver2")
    assert _payment(world, session_id) is None  # the gateway leaves it to the app's rules
    assert cdr_id in settle_due(ctx)
    with world.db.read_sessions() as s:
        charge = s.scalars(select(PaymentChargeRow)
                           .where(PaymentChargeRow.reference == cdr_id)).one()
    assert charge.method == "postpaid"  # driver2 never topped up: postpaid, as before


def test_the_accounts_cli_sets_modes_and_refuses_bad_names(
    client: TestClient, world: World, database_url: str
) -> None:
    runner = CliRunner()
    ok = runner.invoke(cli_app, ["accounts", "add", "acme", "--mode", "postpaid",
                                 "--database", database_url])
    assert ok.exit_code == 0, ok.output
    default = runner.invoke(cli_app, ["accounts", "default", "--mode", "postpaid",
                                      "--database", database_url])
    assert default.exit_code == 0, default.output
    listed = runner.invoke(cli_app, ["accounts", "list", "--database", database_url])
    assert listed.exit_code == 0 and listed.stdout.splitlines() == ["*\tpostpaid",
                                                                    "acme\tpostpaid"]
    bad = runner.invoke(cli_app, ["accounts", "add", "no good", "--mode", "postpaid",
                                  "--database", database_url])
    assert bad.exit_code == 2 and "account" in bad.output
    adhoc = runner.invoke(cli_app, ["accounts", "add", "adhoc.x", "--mode", "wallet",
                                    "--database", database_url])
    assert adhoc.exit_code == 2 and "ad hoc" in adhoc.output
    cleared = runner.invoke(cli_app, ["accounts", "default", "--mode", "none",
                                      "--database", database_url])
    assert cleared.exit_code == 0
    assert AccountModes(world.db, world.clock).default() is None


def test_accounts_add_sets_the_billing_profile_its_invoice_names(
    client: TestClient, world: World, database_url: str
) -> None:
    runner = CliRunner()
    base = ["accounts", "add", "blue", "--mode", "postpaid", "--database", database_url]
    partial = runner.invoke(cli_app, [*base, "--name", "Blue Fleet GmbH"])
    assert partial.exit_code == 2 and "--address, --city, --country" in partial.output
    bad = runner.invoke(cli_app, [*base, "--name", "Blue Fleet GmbH", "--address", "Ring 1",
                                  "--city", "Berlin", "--country", "DE", "--vat-id", "12"])
    assert bad.exit_code == 2 and "vat_id" in bad.output
    modes = AccountModes(world.db, world.clock)
    assert modes.get("blue") is None  # a refused profile stores nothing, not even the mode
    args = [*base, "--name", "Blue Fleet GmbH", "--address", "Ring 1", "--postcode", "10115",
            "--city", "Berlin", "--country", "de", "--vat-id", "DE 123 456 789"]
    ok = runner.invoke(cli_app, args)
    assert ok.exit_code == 0 and "blue: profile set" in ok.output, ok.output
    assert "unchanged" in runner.invoke(cli_app, args).output  # idempotent
    assert modes.get("blue") == "postpaid"
    assert ProfileStore(world.db).get("blue") == CustomerProfile(
        "Blue Fleet GmbH", "Ring 1", "10115", "Berlin", "DE", "DE123456789")
    shown = runner.invoke(cli_app, ["profile", "show", "blue", "--database", database_url])
    assert shown.exit_code == 0 and '"name": "Blue Fleet GmbH"' in shown.output

    TokenRegistry(world.db).add("BLUE-1", account="blue", now=world.clock.now)
    session_id, cdr_id = _charge(world, "BLUE-1", "blue-1")
    payment = _payment(world, session_id)
    assert payment is not None and (payment.mode, payment.account) == ("postpaid", "blue")
    billed = runner.invoke(cli_app, ["bill", "--period", world.clock.now.strftime("%Y-%m"),
                                     "--no-pdf", "--database", database_url])
    assert billed.exit_code == 0, billed.output
    with world.db.read_sessions() as s:
        invoice = s.scalars(select(DocumentRow).join(
            DocumentSessionRow, DocumentSessionRow.document_id == DocumentRow.id).where(
            DocumentSessionRow.reference == cdr_id)).one()
    assert (invoice.doc_type, invoice.account_id) == ("INVOICE", "blue")
    assert invoice.customer["name"] == "Blue Fleet GmbH"
    assert invoice.customer["vat_id"] == "DE123456789"
    assert "Ring 1" in str(invoice.customer) and "Berlin" in str(invoice.customer)
