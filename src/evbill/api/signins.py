"""Server-side sign-in sessions: every bearer token and portal cookie names a row of
`auth_sessions`, checked on every request, so logout and a password change end them at once
in every process (the signed token alone no longer proves anything once its row is revoked).
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update

from evbill.accounts.users import WrongPassword
from evbill.api.context import ApiContext
from evbill.api.problems import Unauthorized
from evbill.api.security_tables import AuthSessionRow
from evbill.api.users import users_of

__all__ = ["change_password", "is_live", "open_session", "revoke", "revoke_all"]

log = logging.getLogger(__name__)


def open_session(ctx: ApiContext, user_id: str, kind: str, ttl_s: int) -> str:
    """A new session id for `user_id` (kind "token" or "cookie")."""
    session_id = secrets.token_hex(16)
    now = ctx.clock()
    with ctx.db.sessions() as s, s.begin():
        s.add(AuthSessionRow(id=session_id, user_id=user_id, kind=kind, created_at=now,
                             expires_at=now + timedelta(seconds=ttl_s), revoked_at=None))
    return session_id


def is_live(ctx: ApiContext, session_id: object, user_id: str) -> bool:
    """True when the session exists, belongs to `user_id` and was not revoked."""
    if not isinstance(session_id, str) or len(session_id) != 32:
        return False
    table = AuthSessionRow.__table__
    with ctx.db.reader() as conn:  # one indexed read per request, outside a transaction
        row = conn.execute(select(table.c.user_id).where(
            table.c.id == session_id, table.c.revoked_at.is_(None))).first()
    return row is not None and row.user_id == user_id


def revoke(ctx: ApiContext, session_id: str) -> None:
    """End one session (logout)."""
    _revoke_where(ctx, ctx.clock(), AuthSessionRow.id == session_id)
    log.info("auth.session_revoked session=%s…", session_id[:6])


def revoke_all(ctx: ApiContext, user_id: str) -> int:
    """End every session of `user_id` (password change, account disabled); returns how many."""
    count = _revoke_where(ctx, ctx.clock(), AuthSessionRow.user_id == user_id)
    log.info("auth.sessions_revoked user_id=%s count=%d", user_id, count)
    return count


def _revoke_where(ctx: ApiContext, now: datetime, condition: object) -> int:
    with ctx.db.sessions() as s, s.begin():
        result = s.execute(update(AuthSessionRow)
                           .where(condition, AuthSessionRow.revoked_at.is_(None))  # type: ignore[arg-type]
                           .values(revoked_at=now))
        return int(result.rowcount)  # type: ignore[attr-defined]


def change_password(ctx: ApiContext, user_id: str, current: str, new: str) -> None:
    """Check `current`, store `new` (`UserService.change_password`: same rules as sign-up)
    and end every session of the user. A wrong current password answers 401; the user
    service's other errors (a weak new password) are the caller's to translate."""
    try:
        users_of(ctx).change_password(user_id, current, new)
    except WrongPassword as exc:
        raise Unauthorized(str(exc)) from None
    revoke_all(ctx, user_id)
