"""In a real headless Chromium: a driver signs in, starts a charge, watches it tick up,
stops it, and downloads the receipt PDF; the page passes basic accessibility checks."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from portal_harness import USER_PASSWORD, LivePortal, shot

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("database_url", ["sqlite"],
                                                       indirect=True)]


def sign_in(page: Page, live: LivePortal, email: str) -> None:
    page.goto(f"{live.url}/portal/")
    expect(page).to_have_url(re.compile(r"/portal/login"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(USER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def _energy(page: Page) -> float:
    return float(page.locator('[data-field="energy_kwh"]').first.inner_text())


def test_driver_charges_stops_and_downloads_the_receipt(page: Page, live: LivePortal) -> None:
    sign_in(page, live, "dana@example.org")
    expect(page.get_by_role("heading", name="Your charging")).to_be_visible()
    page.get_by_label("Station").fill("PT-1")
    page.get_by_role("button", name="Start").click()
    expect(page.locator(".flash")).to_contain_text("Start requested")
    for _ in range(40):  # the station starts within moments; the card appears on reload
        if page.locator("[data-live]").count():
            break
        page.wait_for_timeout(250)
        page.reload()
    card = page.locator("[data-live]")
    expect(card).to_contain_text("Charging now at PT-1")
    expect(card.locator('[data-field="cost"]')).to_contain_text("EUR", timeout=15_000)
    energy_above = "v => parseFloat(document.querySelector('[data-field=energy_kwh]')" \
        ".textContent) > v"
    page.wait_for_function(energy_above, arg=0)
    first = _energy(page)
    page.wait_for_function(energy_above, arg=first)
    assert _energy(page) > first  # ticking up while charging, without a reload
    shot(page, "driver-live")
    page.get_by_role("button", name="Stop charging").click()
    expect(page.locator(".flash")).to_contain_text("Stop requested")
    page.get_by_role("link", name="Invoices").click()
    for _ in range(60):  # stop → rated → paid from the wallet → receipt issued
        if page.locator("#documents").count():
            break
        page.wait_for_timeout(250)
        page.reload()
    expect(page.locator("#documents")).to_contain_text("Receipt")
    shot(page, "driver-invoices")
    with page.expect_download() as info:
        page.get_by_role("link", name=re.compile("PDF of")).click()
    path = info.value.path()
    assert path is not None and path.read_bytes()[:5] == b"%PDF-"
    page.get_by_role("link", name="Charging history").click()
    expect(page.locator("#history")).to_contain_text("rated")
    shot(page, "driver-history")


def test_pages_are_labelled_and_keyboard_reachable(page: Page, live: LivePortal) -> None:
    sign_in(page, live, "dana@example.org")
    for path in ("/portal/", "/portal/sessions", "/portal/invoices", "/portal/wallet",
                 "/portal/profile"):
        page.goto(live.url + path)
        unlabelled = page.evaluate("""() => [...document.querySelectorAll(
            'input:not([type=hidden]), select')].filter(el => !(el.labels && el.labels.length)
            && !el.getAttribute('aria-label')).map(el => el.name)""")
        assert unlabelled == [], f"{path}: inputs without a label: {unlabelled}"
        assert page.evaluate("document.documentElement.lang") == "en"
        assert page.locator("h1").count() == 1
    page.goto(live.url + "/portal/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    charts = page.locator("svg.chart[role=img]")
    expect(charts).to_have_count(2)
    assert "kWh" in (charts.first.locator("desc").text_content() or "")
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    shot(page, "driver-mobile")
