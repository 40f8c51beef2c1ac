"""Portal sign-in, sign-up and sign-out (signed session cookie, CSRF-checked forms)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from evbill.accounts.roles import Role
from evbill.accounts.tables import UserRow
from evbill.api.auth import COOKIE_NAME, Public, cookie_principal, new_cookie
from evbill.api.context import context_of
from evbill.api.problems import Problem
from evbill.api.signins import revoke
from evbill.api.users import sign_in, translated, users_of
from evbill.portal.csrf import CsrfCheck
from evbill.portal.page import page

router = APIRouter(prefix="/portal", include_in_schema=False)
Checked = [Depends(CsrfCheck())]


def _home(user_role: str) -> str:
    return "/portal/" if user_role == Role.DRIVER else "/portal/operator"


def _safe_next(target: str, role: str) -> str:
    """Only a page of this site and of the user's own area (no open redirect)."""
    staff_page = target.startswith("/portal/operator")
    if target.startswith("/portal/") and staff_page == (role != Role.DRIVER):
        return target
    return _home(role)


def _signed_in(request: Request, user: UserRow, target: str) -> Response:
    ctx = context_of(request)
    response = RedirectResponse(_safe_next(target, user.role), status_code=303)
    response.set_cookie(COOKIE_NAME, new_cookie(ctx, user), max_age=ctx.api.cookie_ttl_s,
                        httponly=True, samesite="lax", secure=ctx.api.secure_cookies, path="/")
    return response


@router.get("/login", dependencies=[Depends(Public())])
def login_form(request: Request, next: str = "") -> Response:
    who = cookie_principal(request)
    if who is not None:
        return RedirectResponse(_home(who.role), status_code=303)
    return page(request, "login.html", None, next=next, email="", error=None)


@router.post("/login", dependencies=[Depends(Public()), *Checked])
def login(request: Request, email: Annotated[str, Form()], password: Annotated[str, Form()],
          next: Annotated[str, Form()] = "") -> Response:  # fmt: skip
    client = request.client.host if request.client else "unknown"
    try:
        user = sign_in(context_of(request), email, password, client)
    except Problem as exc:
        return page(request, "login.html", None, status=exc.status, next=next, email=email,
                    error="Unknown email or wrong password." if exc.status == 401 else exc.detail)
    return _signed_in(request, user, next)


@router.get("/signup", dependencies=[Depends(Public())])
def signup_form(request: Request) -> Response:
    return page(request, "signup.html", None, error=None, email="", name="")


@router.post("/signup", dependencies=[Depends(Public()), *Checked])
def signup(request: Request, email: Annotated[str, Form()], name: Annotated[str, Form()],
           password: Annotated[str, Form()]) -> Response:  # fmt: skip
    try:
        with translated():
            user = users_of(context_of(request)).create(email, password, name, Role.DRIVER)
    except Problem as exc:
        return page(request, "signup.html", None, status=exc.status, error=exc.detail,
                    email=email, name=name)  # fmt: skip
    return _signed_in(request, user, "/portal/")


@router.post("/logout", dependencies=[Depends(Public()), *Checked])
def logout(request: Request) -> Response:
    """Sign out: the session ends on the server (the old cookie is refused from now on, in
    every process), and the browser forgets the cookie."""
    who = cookie_principal(request)
    if who is not None and who.session:
        revoke(context_of(request), who.session)
    response = RedirectResponse("/portal/login", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response
