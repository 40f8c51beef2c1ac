"""Who is calling: bearer tokens, operator API keys and portal cookies → a `Principal`, and the
access dependencies (`Allow`, `Public`) every route declares exactly one of.

Roles: a driver sees only its own data; operator staff (admin, finance) only their network;
finance is read-only on money. Resources of another tenant answer 404, not 403.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from itsdangerous import BadSignature, SignatureExpired

from evbill.accounts.roles import Role
from evbill.accounts.tables import UserRow
from evbill.accounts.users import API_KEY_PREFIX
from evbill.api.context import ApiContext, context_of
from evbill.api.problems import Forbidden, LoginRequired, Unauthorized
from evbill.api.signins import is_live, open_session
from evbill.api.users import users_of

__all__ = [
    "COOKIE_NAME",
    "Allow",
    "Principal",
    "Public",
    "cookie_principal",
    "csrf_token",
    "issue_token",
    "new_cookie",
]

log = logging.getLogger(__name__)

COOKIE_NAME = "evbill_session"


@dataclass(frozen=True, slots=True)
class Principal:
    role: Role
    user_id: str | None  # None for an API key
    operator_id: str | None  # the operator's network (staff and API keys)
    token_account: str | None  # drivers: `id_tokens.account` of their cards
    via: str  # "token" | "api_key" | "cookie"
    nonce: str = ""  # portal session nonce (CSRF tokens derive from it)
    session: str = ""  # the server-side sign-in session (tokens and cookies; see signins)

    @property
    def network(self) -> str:
        if self.operator_id is None:
            raise Forbidden("role: this endpoint is for operator staff")
        return self.operator_id


def issue_token(ctx: ApiContext, user: UserRow) -> str:
    """A bearer token naming a new server-side session (revoked by logout)."""
    session = open_session(ctx, user.id, "token", ctx.api.token_ttl_s)
    return ctx.tokens.dumps({"u": user.id, "s": session})


def csrf_token(ctx: ApiContext, nonce: str) -> str:
    return hmac.new(ctx.secret, f"csrf:{nonce}".encode(), hashlib.sha256).hexdigest()


def _user_principal(ctx: ApiContext, user_id: Any, via: str, nonce: str = "",
                    session: Any = None) -> Principal | None:  # fmt: skip
    if not isinstance(user_id, str) or not is_live(ctx, session, user_id):
        return None
    cached = ctx.users.get(user_id)
    if cached is None:
        identity = users_of(ctx).identity(user_id)
        if identity is None:
            return None
        cached = (identity.role, identity.operator_id, identity.token_account)
        ctx.users.put(user_id, cached)
    role, operator_id, account = cached
    return Principal(role, user_id, operator_id, account, via, nonce, str(session))


def _api_key_principal(ctx: ApiContext, presented: str) -> Principal | None:
    holder = users_of(ctx).api_key(presented)
    if holder is None:
        return None
    return Principal(holder.role, None, holder.operator_id, None, "api_key")


def _token_user(ctx: ApiContext, token: str) -> tuple[Any, Any]:
    """(user id, session id) a bearer token was issued with, once its signature and age are
    checked (whether the session is still live is checked on every use).

    A verified token is remembered with the moment it expires (the signature check is the
    larger part of a cheap request's cost); expiry is still enforced on every use."""
    known = ctx.verified_tokens.get(token)
    if known is not None:
        user_id, session, expires_at = known
        if time.time() <= expires_at:
            return user_id, session
        raise Unauthorized("Authorization: the token has expired; sign in again")
    try:
        data, signed_at = ctx.tokens.loads(token, max_age=ctx.api.token_ttl_s,
                                           return_timestamp=True)  # fmt: skip
    except SignatureExpired:
        raise Unauthorized("Authorization: the token has expired; sign in again") from None
    except BadSignature:
        raise Unauthorized("Authorization: the token is not valid") from None
    claimed = data.get("u") if isinstance(data, dict) else None
    session = data.get("s") if isinstance(data, dict) else None
    if isinstance(claimed, str):
        ctx.verified_tokens.put(token, (claimed, session,
                                        signed_at.timestamp() + ctx.api.token_ttl_s))
    return claimed, session


def bearer_principal(request: Request) -> Principal | None:
    """The caller of an API request, or None when it presented no credentials at all."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if not value or scheme.lower() != "bearer":
        if header:
            raise Unauthorized("Authorization: expected 'Bearer <token>'")
        return None
    ctx = context_of(request)
    value = value.strip()
    if value.startswith(API_KEY_PREFIX):
        principal = _api_key_principal(ctx, value)
        if principal is None:
            raise Unauthorized("Authorization: unknown or revoked API key")
        return principal
    user_id, session = _token_user(ctx, value)
    principal = _user_principal(ctx, user_id, "token", session=session)
    if principal is None:
        raise Unauthorized("Authorization: the token was revoked (signed out) or its user "
                           "no longer exists")
    return principal


def cookie_principal(request: Request) -> Principal | None:
    raw = request.cookies.get(COOKIE_NAME)
    if not raw:
        return None
    ctx = context_of(request)
    try:
        data = ctx.cookies.loads(raw, max_age=ctx.api.cookie_ttl_s)
    except BadSignature:  # includes SignatureExpired
        return None
    if not isinstance(data, dict):
        return None
    return _user_principal(ctx, data.get("u"), "cookie", str(data.get("n", "")), data.get("s"))


def new_cookie(ctx: ApiContext, user: UserRow) -> str:
    """A portal session cookie naming a new server-side session (revoked by logout)."""
    session = open_session(ctx, user.id, "cookie", ctx.api.cookie_ttl_s)
    return ctx.cookies.dumps({"u": user.id, "n": secrets.token_hex(16), "s": session})


class Allow:
    """Access dependency: the caller must be signed in with one of `roles`."""

    def __init__(self, *roles: Role, portal: bool = False) -> None:
        self.roles = frozenset(roles)
        self.portal = portal

    async def __call__(self, request: Request) -> Principal:
        principal = cookie_principal(request) if self.portal else bearer_principal(request)
        if principal is None:
            if self.portal:
                raise LoginRequired("session: sign in to see this page")
            raise Unauthorized("Authorization: this endpoint needs a bearer token or API key")
        if principal.role not in self.roles:
            log.info("api.forbidden role=%s path=%s", principal.role, request.url.path)
            allowed = ", ".join(sorted(self.roles))
            raise Forbidden(f"role: {principal.role} may not use this endpoint (needs {allowed})")
        return principal


class Public:
    """Access dependency for endpoints anyone may call (sign-in, EVSE pages, webhooks)."""

    roles: frozenset[Role] = frozenset()

    def __call__(self) -> None:
        return None
