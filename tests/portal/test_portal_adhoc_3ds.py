"""In a real headless Chromium: an ad hoc payer whose card asks for 3-D Secure sees the bank's
challenge; confirming it starts the charge, refusing it starts nothing."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from portal_harness import LivePortal, shot
from sqlalchemy import select

from evbill.store.tables import SessionRow

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("database_url", ["sqlite"],
                                                       indirect=True)]

CARD_3DS = "4000 0000 0000 3220"


def _pay_with_3ds_card(page: Page, live: LivePortal) -> None:
    page.goto(f"{live.url}/pay/PT-1/2")
    page.get_by_label("Card number").fill(CARD_3DS)
    page.get_by_label("Expiry (MM/YY)").fill("12/31")
    page.get_by_label("CVC").fill("123")
    page.get_by_role("button", name="Pay and start charging").click()
    page.wait_for_url("**/pay/p/**")
    expect(page.locator("#challenge")).to_be_visible()
    expect(page.locator("#challenge")).to_contain_text("3-D Secure")


def test_a_confirmed_3ds_challenge_starts_the_charge(page: Page, live: LivePortal) -> None:
    _pay_with_3ds_card(page, live)
    with live.db.read_sessions() as s:
        assert s.scalars(select(SessionRow)).all() == []  # nothing starts before the bank says so
    shot(page, "adhoc-3ds-challenge")
    page.locator("[data-challenge=pass]").click()
    expect(page.locator('[data-field="session_state"]')).to_have_text("charging",
                                                                      timeout=20_000)
    with live.db.read_sessions() as s:
        session = s.scalars(select(SessionRow).where(SessionRow.evse_id == 2)).one()
    assert session.state == "charging"


def test_a_refused_3ds_challenge_starts_nothing(page: Page, live: LivePortal) -> None:
    _pay_with_3ds_card(page, live)
    page.locator("[data-challenge=fail]").click()
    expect(page.locator("[role=alert]")).to_be_visible(timeout=10_000)
    page.wait_for_timeout(1_500)  # give a wrongly started charge time to show up
    with live.db.read_sessions() as s:
        assert s.scalars(select(SessionRow)).all() == []
