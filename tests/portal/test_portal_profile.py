"""In a real headless Chromium: a driver fills in their billing profile, sees it saved (and the
documents it means), corrects a bad VAT id without losing what they typed; the values land in
the same store the API and invoicing read."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from portal_harness import LivePortal, shot
from test_portal_driver import sign_in

from evbill.accounts.profiles import CustomerProfile, ProfileStore
from evbill.api.users import users_of

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("database_url", ["sqlite"],
                                                       indirect=True)]


def _account(live: LivePortal) -> str:
    user = users_of(live.ctx).by_email("dana@example.org")
    assert user is not None and user.token_account is not None
    return user.token_account


def test_driver_sees_and_edits_the_billing_profile(page: Page, live: LivePortal) -> None:
    sign_in(page, live, "dana@example.org")
    page.get_by_role("link", name="Billing profile").click()
    expect(page.get_by_role("heading", name="Billing profile")).to_be_visible()
    expect(page.locator("#documents")).to_contain_text("simplified invoices")
    page.get_by_label("Name (person or company)").fill("Dana Driver")
    page.get_by_label("Street and number").fill("Hauptstraße 5")
    page.get_by_label("Postcode").fill("80331")
    page.get_by_label("City").fill("München")
    page.get_by_label("Country (two letters, e.g. DE)").fill("de")
    page.get_by_label("VAT id (businesses, optional)").fill("12345")  # no country prefix
    page.get_by_role("button", name="Save profile").click()
    expect(page.locator("#profile-error")).to_contain_text("vat_id")
    expect(page.get_by_label("City")).to_have_value("München")  # what was typed is kept
    assert ProfileStore(live.db).get(_account(live)) is None  # and nothing was stored
    page.get_by_label("VAT id (businesses, optional)").fill("DE 123 456 789")
    page.get_by_role("button", name="Save profile").click()
    expect(page.locator(".flash")).to_contain_text("Billing profile saved.")
    expect(page.locator("#documents")).to_contain_text("Your invoices name this profile")
    page.reload()
    expect(page.get_by_label("Name (person or company)")).to_have_value("Dana Driver")
    expect(page.get_by_label("Street and number")).to_have_value("Hauptstraße 5")
    expect(page.get_by_label("Country (two letters, e.g. DE)")).to_have_value("DE")
    expect(page.get_by_label("VAT id (businesses, optional)")).to_have_value("DE123456789")
    shot(page, "driver-profile")
    assert ProfileStore(live.db).get(_account(live)) == CustomerProfile(
        "Dana Driver", "Hauptstraße 5", "80331", "München", "DE", "DE123456789")
    page.get_by_role("button", name="Save profile").click()  # the same values again
    expect(page.locator(".flash")).to_contain_text("Billing profile unchanged.")
