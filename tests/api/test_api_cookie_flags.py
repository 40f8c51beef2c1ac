"""Issue 11 F14: portal cookies carry `Secure` whenever the public URL is https and, by
default, everywhere but the plain-http demo."""

from __future__ import annotations

import re

from api_world import PASSWORD, World, api_settings
from fastapi.testclient import TestClient

from evbill.api.app import create_app
from evbill.api.context import ApiContext
from evbill.api.settings import ApiSettings
from evbill.config import Settings


def test_secure_flag_rules() -> None:
    assert ApiSettings().secure_cookies  # default install: Secure
    assert not ApiSettings(demo=True).secure_cookies
    assert ApiSettings(demo=True, public_base_url="https://pay.example.org").secure_cookies
    assert not ApiSettings(cookie_secure=False).secure_cookies  # said so explicitly


def test_sign_in_cookie_is_secure_outside_the_demo(world: World, ctx: ApiContext) -> None:
    production = api_settings().model_copy(update={"demo": False})
    app = create_app(Settings(data_dir=ctx.settings.data_dir), api_settings=production,
                     db=ctx.db, clock=ctx.clock, provider=ctx.provider)
    with TestClient(app, base_url="https://testserver") as client:
        form = client.get("/portal/login")
        assert "secure" in form.headers["set-cookie"].lower()  # the CSRF cookie
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', form.text)
        assert csrf is not None
        answer = client.post("/portal/login", follow_redirects=False, data={
            "email": "driver@example.org", "password": PASSWORD, "csrf": csrf.group(1)})
        assert answer.status_code == 303
        cookie = answer.headers["set-cookie"].lower()
        assert cookie.startswith("evbill_session=") and "; secure" in cookie
        assert "httponly" in cookie and "samesite=lax" in cookie
