"""Rendering a portal page: template + the signed-in user + the CSRF token, as a response."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from evbill.api.auth import Principal
from evbill.portal.csrf import csrf_for, remember_csrf
from evbill.portal.render import render

__all__ = ["page"]


def page(request: Request, template: str, who: Principal | None, status: int = 200,
         **context: Any) -> HTMLResponse:  # fmt: skip
    values = {"who": who, "csrf": csrf_for(request), **context}
    response = HTMLResponse(render(request, template, values), status_code=status)
    remember_csrf(request, response)
    return response
