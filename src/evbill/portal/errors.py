"""Error pages and the sign-in redirect for portal routes (the API answers problem+json)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from evbill.portal.render import render

__all__ = ["error_page", "login_redirect"]


def error_page(request: Request, status: int, title: str, detail: str,
               headers: dict[str, str] | None = None) -> Response:  # fmt: skip
    page = render(request, "error.html", {"status": status, "title": title, "detail": detail})
    return HTMLResponse(page, status_code=status, headers=headers)


def login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/portal/login?next={quote(target)}", status_code=303)
