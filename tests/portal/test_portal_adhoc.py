"""In a real headless Chromium: an ad hoc payer opens the EVSE page from its QR code, pays
with a sandbox card, and the station starts charging."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from portal_harness import LivePortal, shot
from sqlalchemy import select

from evbill.payments.tables import PaymentAuthorizationRow
from evbill.store.tables import SessionRow

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("database_url", ["sqlite"],
                                                       indirect=True)]


def test_pay_at_the_evse_and_the_station_starts(page: Page, live: LivePortal) -> None:
    qr = page.request.get(f"{live.url}/pay/PT-1/2/qr.svg")
    assert qr.ok and b"<svg" in qr.body()
    page.goto(f"{live.url}/pay/PT-1/2")
    prices = page.locator("#prices .price")
    expect(prices.first).to_contain_text("0.357 EUR per kWh")  # per kWh first (AFIR)
    expect(prices.nth(1)).to_contain_text("per minute")
    shot(page, "adhoc-evse")
    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_label("Expiry (MM/YY)").fill("12/31")
    page.get_by_label("CVC").fill("123")
    page.get_by_role("button", name="Pay and start charging").click()
    page.wait_for_url("**/pay/p/**")
    expect(page.locator('[data-field="status"]')).to_have_text("Reserved")
    expect(page.locator('[data-field="session_state"]')).to_have_text("charging",
                                                                      timeout=20_000)
    page.wait_for_function(
        "() => parseFloat(document.querySelector('[data-field=energy_kwh]').textContent) > 0")
    shot(page, "adhoc-status")
    with live.db.read_sessions() as s:
        hold = s.scalars(select(PaymentAuthorizationRow).where(
            PaymentAuthorizationRow.purpose == "session")).one()
        session = s.scalars(select(SessionRow).where(SessionRow.evse_id == 2)).one()
    assert hold.status == "authorized" and hold.station_id == "PT-1"
    assert session.state == "charging" and session.id_token and session.id_token.startswith(
        "ADHOC")


def test_a_declined_card_starts_nothing(page: Page, live: LivePortal) -> None:
    page.goto(f"{live.url}/pay/PT-1/2")
    page.get_by_label("Card number").fill("4000 0000 0000 0002")
    page.get_by_label("Expiry (MM/YY)").fill("12/31")
    page.get_by_label("CVC").fill("123")
    page.get_by_role("button", name="Pay and start charging").click()
    page.wait_for_url("**/pay/p/**")
    expect(page.locator("[role=alert]")).to_contain_text("declined (card_declined)")
    with live.db.read_sessions() as s:
        assert s.scalars(select(SessionRow)).all() == []
