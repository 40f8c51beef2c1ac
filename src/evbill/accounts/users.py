"""Customers and staff: drivers (sign-up), operator staff (admin, finance: created by the CLI or
by an admin of the same network), sign-in and password checks, profiles and operator API keys
(issued, verified, revoked).

Emails and names are stored encrypted; an email is found through its keyed hash. Every user,
driver or staff, follows the same password rules (`evbill.accounts.crypto.Passwords`).
The HTTP layer (`evbill.api.users`) translates the errors below into problem responses.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from evbill.accounts.crypto import FieldCipher, Passwords, WeakPassword
from evbill.accounts.roles import STAFF, Role
from evbill.accounts.tables import ApiKeyRow, UserRow
from evbill.store.database import Database

__all__ = [
    "API_KEY_PREFIX",
    "ApiKeyHolder",
    "ApiKeyIssued",
    "DuplicateUser",
    "Identity",
    "InvalidUser",
    "Profile",
    "UnknownUser",
    "UserError",
    "UserService",
    "WrongPassword",
    "hash_key_secret",
]

log = logging.getLogger(__name__)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
API_KEY_PREFIX = "evk_"


class UserError(ValueError):
    """A user request that cannot be applied."""


class InvalidUser(UserError):
    """Bad input: an email, name, password, role or operator that is not acceptable."""


class DuplicateUser(UserError):
    """An account with this email exists already."""


class UnknownUser(UserError):
    """No such user (or API key) in the caller's scope."""


class WrongPassword(UserError):
    """The current password given to change it does not match."""


def hash_key_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Profile:
    user_id: str
    role: str
    email: str
    name: str
    operator_id: str | None
    disabled: bool = False
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ApiKeyIssued:
    key_id: str
    secret: str  # shown once
    role: str
    label: str


@dataclass(frozen=True, slots=True)
class Identity:
    """Who an enabled user is to every caller: role, operator network (staff) and the account
    their id tokens bill to (`id_tokens.account`)."""

    user_id: str
    role: Role
    operator_id: str | None
    token_account: str


@dataclass(frozen=True, slots=True)
class ApiKeyHolder:
    """Who a live API key speaks for: staff of one operator's network, in one role."""

    key_id: str
    role: Role
    operator_id: str


class UserService:
    """Users and API keys; each method is one transaction."""

    def __init__(self, db: Database, passwords: Passwords, cipher: FieldCipher,
                 clock: Callable[[], datetime]) -> None:  # fmt: skip
        self._db, self._passwords, self._cipher, self._clock = db, passwords, cipher, clock

    def create(self, email: str, password: str, name: str, role: Role,
               operator_id: str | None = None) -> UserRow:  # fmt: skip
        """A new user; drivers have no operator, staff must have one."""
        if not _EMAIL.match(email.strip()):
            raise InvalidUser(f"email: {email!r} is not an email address")
        if not name.strip() or len(name) > 200:
            raise InvalidUser("name: must be 1 to 200 characters")
        if (role is Role.DRIVER) != (operator_id is None):
            raise InvalidUser("operator_id: staff need an operator, drivers must not have one")
        if operator_id is not None and not 1 <= len(operator_id.strip()) <= 128:
            raise InvalidUser("operator_id: must be 1 to 128 characters")
        try:
            hashed = self._passwords.hash(password)
        except WeakPassword as exc:
            raise InvalidUser(str(exc)) from None
        cipher, user_id = self._cipher, "usr_" + secrets.token_hex(8)
        row = UserRow(
            id=user_id, role=role.value, operator_id=operator_id,
            email_lookup=cipher.lookup(email), email_enc=cipher.encrypt(email.strip()),
            name_enc=cipher.encrypt(name.strip()), password_hash=hashed,
            token_account=f"driver.{user_id}", disabled=False, created_at=self._clock(),
        )  # fmt: skip
        try:
            with self._db.sessions() as s, s.begin():
                s.add(row)
        except IntegrityError:
            raise DuplicateUser("email: an account with this email already exists") from None
        log.info("user.created user_id=%s role=%s operator_id=%s", row.id, row.role, operator_id)
        return row

    def by_email(self, email: str) -> UserRow | None:
        lookup = self._cipher.lookup(email)
        with self._db.read_sessions() as s:
            return s.scalars(select(UserRow).where(UserRow.email_lookup == lookup)).first()

    def authenticate(self, email: str, password: str) -> UserRow | None:
        """The enabled user with this email and password, else None (as slow either way)."""
        user = self.by_email(email)
        stored = user.password_hash if user is not None and not user.disabled else None
        if user is None or not self._passwords.verify(stored, password):
            return None
        return user

    def identity(self, user_id: str) -> Identity | None:
        """The enabled user `user_id`, or None (unknown or disabled)."""
        with self._db.read_sessions() as s:
            user = s.get(UserRow, user_id)
        if user is None or user.disabled:
            return None
        return Identity(user.id, Role(user.role), user.operator_id, user.token_account)

    def change_password(self, user_id: str, current: str, new: str) -> None:
        """Check `current` and store `new` (same rules as sign-up). Ending the user's sign-in
        sessions is the caller's (the HTTP layer's) part."""
        with self._db.read_sessions() as s:
            user = s.get(UserRow, user_id)
            stored = None if user is None else user.password_hash
        if not self._passwords.verify(stored, current):
            raise WrongPassword("current_password: wrong password")
        try:
            hashed = self._passwords.hash(new)
        except WeakPassword as exc:
            raise InvalidUser(str(exc)) from None
        with self._db.sessions() as s, s.begin():
            row = s.get(UserRow, user_id)
            if row is None:
                raise UnknownUser("user: not found")
            row.password_hash = hashed
        log.info("user.password_changed user_id=%s", user_id)

    def _profile(self, user: UserRow) -> Profile:
        c = self._cipher
        return Profile(user.id, user.role, c.decrypt(user.email_enc), c.decrypt(user.name_enc),
                       user.operator_id, user.disabled, user.created_at)  # fmt: skip

    def profile(self, user_id: str) -> Profile:
        with self._db.read_sessions() as s:
            user = s.get(UserRow, user_id)
        if user is None:
            raise UnknownUser("user: not found")
        return self._profile(user)

    # --- staff ---------------------------------------------------------------------------
    def staff(self, operator_id: str | None = None) -> list[Profile]:
        """Operator staff, of one network when `operator_id` is given, oldest first."""
        stmt = select(UserRow).where(UserRow.role.in_([r.value for r in STAFF]))
        if operator_id is not None:
            stmt = stmt.where(UserRow.operator_id == operator_id)
        with self._db.read_sessions() as s:
            rows = list(s.scalars(stmt.order_by(UserRow.created_at, UserRow.id)))
        return [self._profile(r) for r in rows]

    def set_disabled(self, user_id: str, disabled: bool, *,
                     operator_id: str | None = None) -> Profile:  # fmt: skip
        """Disable (or enable again) a staff user; with `operator_id`, only of that network
        (another network's user is unknown). Idempotent."""
        with self._db.sessions() as s, s.begin():
            user = s.get(UserRow, user_id)
            if (user is None or user.role == Role.DRIVER.value
                    or (operator_id is not None and user.operator_id != operator_id)):
                raise UnknownUser(f"user_id: no staff user {user_id!r}")
            user.disabled = disabled
            profile = self._profile(user)
        log.info("user.disabled user_id=%s disabled=%s", user_id, disabled)
        return profile

    def staff_by_email(self, email: str) -> UserRow:
        user = self.by_email(email)
        if user is None or user.role == Role.DRIVER.value:
            raise UnknownUser(f"email: no staff user {email!r}")
        return user

    # --- API keys ----------------------------------------------------------------------
    def issue_key(self, operator_id: str, role: Role, label: str) -> ApiKeyIssued:
        if role is Role.DRIVER:
            raise InvalidUser("role: API keys are for operator_admin or finance")
        key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        row = ApiKeyRow(id=key_id, operator_id=operator_id, role=role.value, label=label,
                        secret_hash=hash_key_secret(secret), created_at=self._clock())
        with self._db.sessions() as s, s.begin():
            s.add(row)
        log.info("api_key.issued key_id=%s operator_id=%s role=%s", key_id, operator_id, role)
        return ApiKeyIssued(key_id, f"{API_KEY_PREFIX}{key_id}.{secret}", role.value, label)

    def api_key(self, presented: str) -> ApiKeyHolder | None:
        """The live key `presented` (`evk_<key id>.<secret>`) is, or None: unknown, revoked or
        a wrong secret (the secret is compared in constant time)."""
        key_id, _, secret = presented.removeprefix(API_KEY_PREFIX).partition(".")
        if not presented.startswith(API_KEY_PREFIX) or not key_id or not secret:
            return None
        with self._db.read_sessions() as s:
            row = s.get(ApiKeyRow, key_id)
        if row is None or row.revoked_at is not None:
            return None
        if not hmac.compare_digest(row.secret_hash, hash_key_secret(secret)):
            return None
        return ApiKeyHolder(row.id, Role(row.role), row.operator_id)

    def keys(self, operator_id: str) -> list[ApiKeyRow]:
        with self._db.read_sessions() as s:
            stmt = select(ApiKeyRow).where(ApiKeyRow.operator_id == operator_id)
            return list(s.scalars(stmt.order_by(ApiKeyRow.created_at)))

    def revoke_key(self, operator_id: str, key_id: str) -> None:
        with self._db.sessions() as s, s.begin():
            row = s.get(ApiKeyRow, key_id)
            if row is None or row.operator_id != operator_id:
                raise UnknownUser(f"key_id: no API key {key_id!r}")
            row.revoked_at = row.revoked_at or self._clock()
