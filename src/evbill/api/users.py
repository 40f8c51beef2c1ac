"""Users and API keys: driver sign-up, staff accounts, sign-in with rate limiting, key issue.

Emails and names are stored encrypted; an email is found through its keyed hash.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from evbill.api.auth import API_KEY_PREFIX, Principal, Role, hash_key_secret
from evbill.api.context import ApiContext
from evbill.api.crypto import WeakPassword
from evbill.api.problems import BadRequest, Conflict, NotFound, TooManyRequests, Unauthorized
from evbill.api.tables import ApiKeyRow, UserRow

__all__ = ["ApiKeyIssued", "Profile", "UserService"]

log = logging.getLogger(__name__)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True, slots=True)
class Profile:
    user_id: str
    role: str
    email: str
    name: str
    operator_id: str | None


@dataclass(frozen=True, slots=True)
class ApiKeyIssued:
    key_id: str
    secret: str  # shown once
    role: str
    label: str


class UserService:
    def __init__(self, ctx: ApiContext) -> None:
        self._ctx = ctx

    def create(self, email: str, password: str, name: str, role: Role,
               operator_id: str | None = None) -> UserRow:  # fmt: skip
        """A new user; drivers have no operator, staff must have one."""
        if not _EMAIL.match(email.strip()):
            raise BadRequest(f"email: {email!r} is not an email address")
        if not name.strip() or len(name) > 200:
            raise BadRequest("name: must be 1 to 200 characters")
        if (role is Role.DRIVER) != (operator_id is None):
            raise BadRequest("operator_id: staff need an operator, drivers must not have one")
        try:
            hashed = self._ctx.passwords.hash(password)
        except WeakPassword as exc:
            raise BadRequest(str(exc)) from None
        cipher, user_id = self._ctx.cipher, "usr_" + secrets.token_hex(8)
        row = UserRow(
            id=user_id, role=role.value, operator_id=operator_id,
            email_lookup=cipher.lookup(email), email_enc=cipher.encrypt(email.strip()),
            name_enc=cipher.encrypt(name.strip()), password_hash=hashed,
            token_account=f"driver.{user_id}", disabled=False, created_at=self._ctx.clock(),
        )  # fmt: skip
        try:
            with self._ctx.db.sessions() as s, s.begin():
                s.add(row)
        except IntegrityError:
            raise Conflict("email: an account with this email already exists") from None
        log.info("user.created user_id=%s role=%s", row.id, row.role)
        return row

    def sign_in(self, email: str, password: str, client: str) -> UserRow:
        ctx = self._ctx
        lookup = ctx.cipher.lookup(email)
        attempt = ctx.limiter.attempt([f"email:{lookup}", f"ip:{client}"], ctx.clock())
        if wait := attempt.retry_after:
            raise TooManyRequests(f"sign-in: too many failed attempts; retry in {wait} s",
                                  headers={"Retry-After": str(wait)})  # fmt: skip
        with ctx.db.read_sessions() as s:
            user = s.scalars(select(UserRow).where(UserRow.email_lookup == lookup)).first()
        stored = user.password_hash if user is not None and not user.disabled else None
        if user is None or not ctx.passwords.verify(stored, password):
            log.info("user.sign_in_failed client=%s", client)  # the attempt stays counted
            raise Unauthorized("credentials: unknown email or wrong password")
        ctx.limiter.succeeded(attempt, [f"email:{lookup}"])
        return user

    def profile(self, principal: Principal) -> Profile:
        if principal.user_id is None:
            return Profile("", principal.role.value, "", "API key", principal.operator_id)
        with self._ctx.db.read_sessions() as s:
            user = s.get(UserRow, principal.user_id)
        if user is None:
            raise NotFound("user: not found")
        c = self._ctx.cipher
        return Profile(user.id, user.role, c.decrypt(user.email_enc), c.decrypt(user.name_enc),
                       user.operator_id)  # fmt: skip

    # --- API keys ----------------------------------------------------------------------
    def issue_key(self, operator_id: str, role: Role, label: str) -> ApiKeyIssued:
        if role is Role.DRIVER:
            raise BadRequest("role: API keys are for operator_admin or finance")
        key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        row = ApiKeyRow(id=key_id, operator_id=operator_id, role=role.value, label=label,
                        secret_hash=hash_key_secret(secret), created_at=self._ctx.clock())
        with self._ctx.db.sessions() as s, s.begin():
            s.add(row)
        log.info("api_key.issued key_id=%s operator_id=%s role=%s", key_id, operator_id, role)
        return ApiKeyIssued(key_id, f"{API_KEY_PREFIX}{key_id}.{secret}", role.value, label)

    def keys(self, operator_id: str) -> list[ApiKeyRow]:
        with self._ctx.db.read_sessions() as s:
            stmt = select(ApiKeyRow).where(ApiKeyRow.operator_id == operator_id)
            return list(s.scalars(stmt.order_by(ApiKeyRow.created_at)))

    def revoke_key(self, operator_id: str, key_id: str) -> None:
        with self._ctx.db.sessions() as s, s.begin():
            row = s.get(ApiKeyRow, key_id)
            if row is None or row.operator_id != operator_id:
                raise NotFound(f"key_id: no API key {key_id!r}")
            row.revoked_at = row.revoked_at or self._ctx.clock()
