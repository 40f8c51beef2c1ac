"""Sign-up and sign-in (bearer tokens) and the caller's profile."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from evbill.accounts.roles import ALL_ROLES, Role
from evbill.accounts.tables import UserRow
from evbill.api.auth import Allow, Principal, Public, issue_token
from evbill.api.context import context_of
from evbill.api.problems import BadRequest
from evbill.api.schemas import PasswordChange, ProfileOut, SignIn, SignUp, TokenOut
from evbill.api.signins import change_password, revoke
from evbill.api.users import sign_in as check_sign_in
from evbill.api.users import translated, users_of

router = APIRouter(prefix="/api/v1", tags=["auth"])


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/auth/signup", status_code=201, dependencies=[Depends(Public())])
def sign_up(body: SignUp, request: Request) -> TokenOut:
    """Create a driver account and return a bearer token."""
    ctx = context_of(request)
    with translated():
        user = users_of(ctx).create(body.email, body.password, body.name, Role.DRIVER)
    return TokenOut(access_token=issue_token(ctx, user), expires_in=ctx.api.token_ttl_s)


@router.post("/auth/token", dependencies=[Depends(Public())])
def sign_in(body: SignIn, request: Request) -> TokenOut:
    """Exchange email and password for a bearer token (rate limited)."""
    ctx = context_of(request)
    user = check_sign_in(ctx, body.email, body.password, client_of(request))
    return TokenOut(access_token=issue_token(ctx, user), expires_in=ctx.api.token_ttl_s)


@router.get("/me")
def me(request: Request, who: Annotated[Principal, Depends(Allow(*ALL_ROLES))]) -> ProfileOut:
    """Who the token belongs to."""
    if who.user_id is None:  # an API key
        return ProfileOut(user_id="", role=who.role.value, email="", name="API key",
                          operator_id=who.operator_id)  # fmt: skip
    with translated():
        p = users_of(context_of(request)).profile(who.user_id)
    return ProfileOut(user_id=p.user_id, role=p.role, email=p.email, name=p.name,
                      operator_id=p.operator_id)  # fmt: skip


@router.post("/auth/logout", status_code=204, response_class=Response)
def sign_out(request: Request,
             who: Annotated[Principal, Depends(Allow(*ALL_ROLES))]) -> Response:  # fmt: skip
    """Revoke this bearer token at once, in every process (API keys are revoked by an admin)."""
    if who.via != "token":
        raise BadRequest("Authorization: only a bearer token signs out; revoke an API key "
                         "with DELETE /api/v1/operator/api-keys/{key_id}")
    revoke(context_of(request), who.session)
    return Response(status_code=204)


@router.post("/me/password")
def new_password(request: Request, body: PasswordChange,
                 who: Annotated[Principal, Depends(Allow(*ALL_ROLES))]) -> TokenOut:  # fmt: skip
    """Change your password: every token and portal session you have ends at once; the answer
    carries a fresh token."""
    ctx = context_of(request)
    if who.user_id is None:
        raise BadRequest("Authorization: an API key has no password")
    with translated():  # a weak new password: 400
        change_password(ctx, who.user_id, body.current_password, body.new_password)
    with ctx.db.read_sessions() as s:
        user = s.get(UserRow, who.user_id)
    assert user is not None
    return TokenOut(access_token=issue_token(ctx, user), expires_in=ctx.api.token_ttl_s)
