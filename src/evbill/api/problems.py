"""RFC 9457 problem details: the one error body every API endpoint answers with.

Errors are raised as `Problem` subclasses (or come from validation and routing) and leave as
`application/problem+json` with `type`, `title`, `status`, `detail` and, for validation,
the offending fields. Portal pages get the same status with an HTML page instead.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from evbill.payments.refusals import (
    Invalid,
    NotFoundHere,
    PaymentRefused,
    Refusal,
    StateConflict,
)

__all__ = [
    "PROBLEM_JSON",
    "BadRequest",
    "Conflict",
    "Forbidden",
    "LoginRequired",
    "NotFound",
    "PaymentRequired",
    "Problem",
    "TooManyRequests",
    "Unauthorized",
    "document_problems",
    "install_problem_handlers",
    "problem_of",
    "problem_response",
    "short",
]

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
_TYPE_BASE = "https://evbill.dev/problems/"
#: Longest detail (and validation reason) a problem carries: an error never echoes a large
#: value back to whoever sent it.
DETAIL_MAX = 300


def short(text: str, limit: int = DETAIL_MAX) -> str:
    """`text`, cut to `limit` characters with an ellipsis when longer."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Problem(Exception):
    """An error with an HTTP status; `detail` names the field and the reason."""

    status = 500
    title = "Internal Server Error"
    slug = "internal"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None,
                 extra: dict[str, Any] | None = None) -> None:  # fmt: skip
        super().__init__(short(detail))
        self.detail = short(detail)
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self, instance: str) -> dict[str, Any]:
        return {"type": _TYPE_BASE + self.slug, "title": self.title, "status": self.status,
                "detail": self.detail, "instance": instance, **self.extra}  # fmt: skip


class BadRequest(Problem):
    status, title, slug = 400, "Bad Request", "bad-request"


class Unauthorized(Problem):
    status, title, slug = 401, "Unauthorized", "unauthorized"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="evbill"'})


class LoginRequired(Problem):
    """A portal page without a signed-in user: answered with a redirect to the login page."""

    status, title, slug = 401, "Unauthorized", "unauthorized"


class PaymentRequired(Problem):
    status, title, slug = 402, "Payment Required", "payment-declined"


class Forbidden(Problem):
    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(Problem):
    status, title, slug = 404, "Not Found", "not-found"


class Conflict(Problem):
    status, title, slug = 409, "Conflict", "conflict"


class TooManyRequests(Problem):
    status, title, slug = 429, "Too Many Requests", "rate-limited"


def problem_response(request: Request, status: int, title: str, detail: str, slug: str,
                     headers: dict[str, str] | None = None,
                     extra: dict[str, Any] | None = None) -> Response:  # fmt: skip
    if _wants_html(request):
        from evbill.portal.errors import error_page

        page: Response = error_page(request, status, title, detail, headers)
        return page
    detail = short(detail)
    body = {"type": _TYPE_BASE + slug, "title": title, "status": status, "detail": detail,
            "instance": request.url.path, **(extra or {})}  # fmt: skip
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _wants_html(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/portal") or path.startswith("/pay")


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    if isinstance(exc, LoginRequired) and _wants_html(request):
        from evbill.portal.errors import login_redirect

        redirect: Response = login_redirect(request)
        return redirect
    return problem_response(request, exc.status, exc.title, exc.detail, exc.slug,
                            exc.headers, exc.extra)  # fmt: skip


async def _on_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [{"field": short(".".join(str(p) for p in err.get("loc", ())), 100),
               "reason": short(str(err.get("msg")), 200)}
              for err in exc.errors()[:20]]  # fmt: skip
    detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors) or "invalid request"
    return problem_response(request, 422, "Unprocessable Content", detail, "validation",
                            extra={"errors": errors})  # fmt: skip


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    titles = {404: "Not Found", 405: "Method Not Allowed"}
    title = titles.get(exc.status_code, "HTTP Error")
    detail = exc.detail if isinstance(exc.detail, str) else title
    if exc.status_code == 404:
        detail = f"path: nothing at {request.url.path}"
    return problem_response(request, exc.status_code, title, detail,
                            title.lower().replace(" ", "-"), dict(exc.headers or {}))  # fmt: skip


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("api.unhandled path=%s error=%s", request.url.path, exc.__class__.__name__)
    return problem_response(request, 500, "Internal Server Error",
                            "server: an unexpected error was logged", "internal")  # fmt: skip


def problem_of(refusal: Refusal) -> Problem:
    """The HTTP problem for a payment-domain refusal (the domain knows no status codes)."""
    kinds: tuple[tuple[type[Refusal], type[Problem]], ...] = (
        (Invalid, BadRequest), (PaymentRefused, PaymentRequired), (NotFoundHere, NotFound),
        (StateConflict, Conflict))
    for domain, problem in kinds:
        if isinstance(refusal, domain):
            return problem(refusal.detail)
    return BadRequest(refusal.detail)


async def _on_refusal(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refusal)
    return await _on_problem(request, problem_of(exc))


_PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem", "type": "object", "required": ["type", "title", "status", "detail"],
    "description": "RFC 9457 problem details",
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"}, "instance": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "field": {"type": "string"}, "reason": {"type": "string"}}}},
    },
}  # fmt: skip


def document_problems(app: FastAPI) -> None:
    """Say in the OpenAPI document what every error really is: a problem detail
    (`application/problem+json`), for validation (422) and every other 4xx and 5xx."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = build()
        components = document.setdefault("components", {}).setdefault("schemas", {})
        components["Problem"] = _PROBLEM_SCHEMA
        problem = {"description": "a problem detail (RFC 9457)", "content": {
            PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
        for item in document.get("paths", {}).values():
            for operation in item.values():
                responses = operation.setdefault("responses", {})
                for status in ("422", "4XX", "5XX"):
                    responses[status] = problem
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(Refusal, _on_refusal)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(Exception, _on_unexpected)
