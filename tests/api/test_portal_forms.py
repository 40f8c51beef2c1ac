"""Portal forms without a browser: CSRF refusal, cookie flags, no open redirect, charts."""

from __future__ import annotations

import re
from decimal import Decimal

from api_world import PASSWORD, World
from fastapi.testclient import TestClient

from evbill.portal.charts import Bar, bar_chart


def _csrf(client: TestClient, path: str = "/portal/login") -> str:
    page = client.get(path)
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert match, page.text[:500]
    return match.group(1)


def test_forms_without_the_csrf_token_are_refused(client: TestClient, world: World) -> None:
    _csrf(client)  # sets the visitor's CSRF cookie
    body = {"email": "driver@example.org", "password": PASSWORD}
    assert client.post("/portal/login", data=body).status_code == 403
    assert client.post("/portal/login", data={**body, "csrf": "0" * 64}).status_code == 403
    client.cookies.clear()  # a token from another visitor's cookie does not match either
    assert client.post("/portal/login", data={**body, "csrf": _csrf(client)},
                       cookies={"evbill_csrf": "other"}).status_code == 403


def test_sign_in_sets_a_safe_cookie_and_never_redirects_off_site(
    client: TestClient, world: World
) -> None:
    token = _csrf(client)
    r = client.post("/portal/login", follow_redirects=False, data={
        "email": "driver@example.org", "password": PASSWORD, "csrf": token,
        "next": "https://evil.example/phish"})
    assert r.status_code == 303 and r.headers["location"] == "/portal/"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    home = client.get("/portal/")
    assert home.status_code == 200 and 'role="img"' in home.text
    wrong = client.post("/portal/login", data={"email": "driver@example.org",
                                               "password": "nope nope nope", "csrf": token})
    assert wrong.status_code == 401 and "Unknown email or wrong password" in wrong.text


def test_chart_is_accessible_svg_with_every_value_described() -> None:
    svg = bar_chart([Bar("Jan", Decimal("12.5"), "January: 12.5 kWh"),
                     Bar("Feb", Decimal("40"), "February: 40 kWh")],
                    title="Energy", unit="kWh", chart_id="c")
    assert svg.startswith('<svg id="c"') and 'role="img"' in svg
    assert "<desc id=\"c-d\">January: 12.5 kWh; February: 40 kWh</desc>" in svg
    heights = [float(h) for h in re.findall(r'height="([\d.]+)" rx', svg)]
    assert heights[1] > heights[0] > 0  # bars scale with their values (axis top is 50)
    assert abs(heights[0] / heights[1] - 12.5 / 40) < 0.01


def test_the_profile_form_writes_the_store_the_api_reads(client: TestClient, world: World) -> None:
    from api_world import bearer

    token = _csrf(client)
    r = client.post("/portal/login", follow_redirects=False, data={
        "email": "driver@example.org", "password": PASSWORD, "csrf": token})
    assert r.status_code == 303
    form = {"name": "Erika Mustermann", "address": "Hauptstraße 5", "postcode": "80331",
            "city": "München", "country": "de", "vat_id": ""}
    assert client.post("/portal/profile", data=form).status_code == 403  # no CSRF token
    token = _csrf(client, "/portal/profile")
    blank = client.post("/portal/profile", data={**form, "name": "   ", "csrf": token})
    assert blank.status_code == 400 and "name: must not be empty" in blank.text
    assert 'value="Hauptstraße 5"' in blank.text  # the rest of what was typed is kept
    auth = bearer(world, "driver")
    assert client.get("/api/v1/me/profile", headers=auth).json()["profile"] is None
    saved = client.post("/portal/profile", follow_redirects=False, data={**form, "csrf": token})
    assert saved.status_code == 303 and "saved" in saved.headers["location"]
    api = client.get("/api/v1/me/profile", headers=auth).json()
    assert api["documents"] == "full"
    assert api["profile"] == {**form, "country": "DE", "vat_id": None}
    other = client.get("/api/v1/me/profile", headers=bearer(world, "driver2")).json()
    assert other["profile"] is None  # the form wrote the signed-in driver's own account
    client.cookies.clear()
    assert client.get("/portal/profile", follow_redirects=False).status_code in (303, 401)
