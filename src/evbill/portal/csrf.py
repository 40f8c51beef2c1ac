"""CSRF protection for portal forms: a signed double-submit token.

Every visitor gets a random `evbill_csrf` cookie (HttpOnly, SameSite=Strict); forms carry
HMAC(secret, cookie) in a hidden `csrf` field (scripts in an `X-CSRF-Token` header), and every
POST must present the pair.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request
from fastapi.responses import Response

from evbill.api.auth import csrf_token
from evbill.api.context import context_of
from evbill.api.problems import Forbidden

__all__ = ["CSRF_COOKIE", "CsrfCheck", "csrf_for", "remember_csrf"]

CSRF_COOKIE = "evbill_csrf"


def _sign(request: Request, nonce: str) -> str:
    return csrf_token(context_of(request), nonce)


def csrf_for(request: Request) -> str:
    """The form token for this visitor (creates the cookie value on first sight)."""
    nonce = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "csrf_nonce", None)
    if not nonce:
        nonce = secrets.token_urlsafe(24)
        request.state.csrf_nonce = nonce
    return _sign(request, nonce)


def remember_csrf(request: Request, response: Response) -> Response:
    """Set the CSRF cookie when this request created it."""
    nonce = getattr(request.state, "csrf_nonce", None)
    if nonce and not request.cookies.get(CSRF_COOKIE):
        response.set_cookie(CSRF_COOKIE, nonce, httponly=True, samesite="strict",
                            secure=context_of(request).api.secure_cookies, path="/")  # fmt: skip
    return response


class CsrfCheck:
    """Dependency for form POSTs: the hidden field must match the visitor's cookie."""

    async def __call__(self, request: Request) -> None:
        nonce = request.cookies.get(CSRF_COOKIE)
        sent: object = request.headers.get("x-csrf-token")
        if sent is None:  # a form post (scripts send the header instead)
            sent = (await request.form()).get("csrf")
        if not nonce or not isinstance(sent, str) or not hmac.compare_digest(
            sent, _sign(request, nonce)
        ):
            raise Forbidden("csrf: the form is stale or was not sent by this site; reload it")
