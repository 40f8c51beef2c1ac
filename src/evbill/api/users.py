"""HTTP translation of the user domain (`evbill.accounts.users`): the service bound to the
app's keys, sign-in with its rate limit, and domain errors as problem responses."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from evbill.accounts.tables import UserRow
from evbill.accounts.users import DuplicateUser, InvalidUser, UnknownUser, UserService
from evbill.api.context import ApiContext
from evbill.api.problems import BadRequest, Conflict, NotFound, TooManyRequests, Unauthorized

__all__ = ["sign_in", "translated", "users_of"]

log = logging.getLogger(__name__)


def users_of(ctx: ApiContext) -> UserService:
    return UserService(ctx.db, ctx.passwords, ctx.cipher, ctx.clock)


@contextmanager
def translated() -> Iterator[None]:
    """Domain errors of the user service as 400 / 404 / 409 problems."""
    try:
        yield
    except InvalidUser as exc:
        raise BadRequest(str(exc)) from None
    except UnknownUser as exc:
        raise NotFound(str(exc)) from None
    except DuplicateUser as exc:
        raise Conflict(str(exc)) from None


def sign_in(ctx: ApiContext, email: str, password: str, client: str) -> UserRow:
    """The user, once the email and password match; failures are counted per email and per
    client address, and refused with 429 once too many."""
    lookup = ctx.cipher.lookup(email)
    attempt = ctx.limiter.attempt([f"email:{lookup}", f"ip:{client}"], ctx.clock())
    if wait := attempt.retry_after:
        raise TooManyRequests(f"sign-in: too many failed attempts; retry in {wait} s",
                              headers={"Retry-After": str(wait)})  # fmt: skip
    user = users_of(ctx).authenticate(email, password)
    if user is None:
        log.info("user.sign_in_failed client=%s", client)  # the attempt stays counted
        raise Unauthorized("credentials: unknown email or wrong password")
    ctx.limiter.succeeded(attempt, [f"email:{lookup}"])
    return user
