"""In a real headless Chromium: an operator sees the dashboard, edits a tariff and watches
the live price preview change, then saves it as a new version."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from portal_harness import LivePortal, shot
from test_portal_driver import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("database_url", ["sqlite"],
                                                       indirect=True)]


def test_operator_edits_a_tariff_with_a_live_preview(page: Page, live: LivePortal) -> None:
    sign_in(page, live, "oscar@example.org")
    expect(page.get_by_role("heading", name="Network dashboard")).to_be_visible()
    expect(page.locator("#stations")).to_contain_text("PT-1")
    expect(page.locator("#stations")).to_contain_text("online")
    expect(page.locator("#chart-revenue")).to_be_visible()
    shot(page, "operator-dashboard")
    page.get_by_role("link", name="Tariffs").click()
    total = page.locator("#preview-total")
    # 20 kWh × 0.30 + 30 min parked × 0.10, + 19 % VAT = 9.00 × 1.19
    expect(total).to_have_text("10.71 EUR")
    page.get_by_label("Per kWh (EUR)").fill("0.40")
    expect(total).to_have_text("13.09 EUR")  # (8.00 + 3.00) × 1.19
    expect(page.locator("[data-prices]")).to_contain_text("0.476 EUR per kWh")
    page.get_by_label("Parked after (min)").fill("0")
    expect(total).to_have_text("9.52 EUR")
    shot(page, "operator-tariffs")
    page.get_by_role("button", name="Save as new version").click()
    expect(page.locator(".flash")).to_contain_text("Saved PT-AC version")
    expect(page.locator("#versions tbody tr")).to_have_count(2)
