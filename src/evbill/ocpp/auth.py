"""Station authentication at the WebSocket handshake: OCPP security profiles 0–3.

Profile 1 is HTTP Basic (username = station id) over ws://, profile 2 the same over wss://,
profile 3 a TLS client certificate whose CN is the station id. The profile is per station,
falling back to the global setting. Only password hashes are stored: a keyed hash (HMAC
under the installation's station-password key, `accounts.passwords`), so a check costs
microseconds; an older PBKDF2 hash still verifies and is replaced after a successful login.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Protocol

from evbill.accounts import passwords

if TYPE_CHECKING:
    from evbill.store.database import Database

log = logging.getLogger("evbill.ocpp")

__all__ = [
    "AuthDecision",
    "SecurityProfile",
    "StaticCredentials",
    "StationAuthenticator",
    "StationCredential",
    "StationCredentials",
    "StoreCredentials",
    "hash_station_password",
    "verify_station_password",
]

_SCHEME = "pbkdf2_sha256"
_ITERATIONS = 20_000  # the older form, for stations registered before keyed hashes


class SecurityProfile(IntEnum):
    NONE = 0  # no authentication (development only)
    BASIC = 1  # HTTP Basic over ws://
    BASIC_TLS = 2  # HTTP Basic over wss://
    CLIENT_CERT = 3  # TLS client certificate


def hash_station_password(
    password: str, *, key: bytes | None = None, salt: bytes | None = None,
    iterations: int = _ITERATIONS,
) -> str:  # fmt: skip
    """The stored form: keyed (`hmac_sha256$…`) with the installation's `key`; without one the
    older `pbkdf2_sha256$iterations$salt$hash`, which the gateway upgrades at the next login."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    if key is not None:
        return passwords.hash_password(password, key=key, salt=salt)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    b64 = base64.b64encode
    return f"{_SCHEME}${iterations}${b64(salt).decode()}${b64(digest).decode()}"


def verify_station_password(password: str, stored_hash: str, key: bytes | None = None) -> bool:
    """True if `password` matches `stored_hash` (constant-time); False for an unreadable hash
    or a keyed one without the key."""
    try:
        return passwords.verify_password(password, stored_hash, key=key)
    except (passwords.PasswordError, ValueError, binascii.Error):
        return False


@dataclass(frozen=True, slots=True)
class StationCredential:
    """What the store knows to authenticate one station."""

    password_hash: str | None = None
    security_profile: SecurityProfile | None = None  # None: the global setting applies


class StationCredentials(Protocol):
    """Where credentials come from (the store's stations, or a fixed table)."""

    def lookup(self, station_id: str) -> StationCredential | None: ...

    def key(self) -> bytes | None:
        """The installation's station-password key (None: only unkeyed hashes here)."""
        ...

    def upgrade(self, station_id: str, password: str, stored_hash: str) -> None:
        """Replace an older hash with the keyed one, after `password` matched it."""
        ...


class StaticCredentials:
    """A fixed table of credentials (configuration, tests)."""

    def __init__(self, table: Mapping[str, StationCredential] | None = None,
                 key: bytes | None = None) -> None:  # fmt: skip
        self._table = dict(table or {})
        self._key = key

    def lookup(self, station_id: str) -> StationCredential | None:
        return self._table.get(station_id)

    def key(self) -> bytes | None:
        return self._key

    def upgrade(self, station_id: str, password: str, stored_hash: str) -> None:
        if self._key is not None and station_id in self._table:
            old = self._table[station_id]
            keyed = hash_station_password(password, key=self._key)
            self._table[station_id] = StationCredential(keyed, old.security_profile)


class StoreCredentials:
    """Password hashes from the store's `stations` table; the profile is the global one."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._key: bytes | None = None

    def lookup(self, station_id: str) -> StationCredential | None:
        from evbill.store.tables import StationRow

        with self._db.read_sessions() as session:
            row = session.get(StationRow, station_id)
            return None if row is None else StationCredential(password_hash=row.password_hash)

    def key(self) -> bytes:
        if self._key is None:
            from evbill.store.installation import STATION_PASSWORD_KEY, installation_secret

            self._key = installation_secret(self._db, STATION_PASSWORD_KEY)
        return self._key

    def upgrade(self, station_id: str, password: str, stored_hash: str) -> None:
        from evbill.store.tables import StationRow

        keyed = hash_station_password(password, key=self.key())
        with self._db.sessions() as session, session.begin():
            row = session.get(StationRow, station_id)
            if row is not None and row.password_hash == stored_hash:  # unchanged meanwhile
                row.password_hash = keyed
        log.info("ocpp.password_rehashed station=%s scheme=hmac_sha256", station_id)


@dataclass(frozen=True, slots=True)
class AuthDecision:
    accepted: bool
    profile: SecurityProfile
    reason: str = ""  # for the log; never contains the password


def parse_basic_auth(header: str | None) -> tuple[str, str] | None:
    """(username, password) from an `Authorization: Basic …` header, None if absent/broken."""
    if not header:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


class StationAuthenticator:
    """Decides whether a handshake may proceed; blocking (a store read): run it in a pool."""

    def __init__(self, credentials: StationCredentials, default_profile: SecurityProfile) -> None:
        self._credentials = credentials
        self.default_profile = default_profile

    def authenticate(
        self,
        station_id: str,
        authorization: str | None,
        *,
        tls: bool,
        client_cert_cn: str | None = None,
    ) -> AuthDecision:
        credential = self._credentials.lookup(station_id)
        profile = self.default_profile
        if credential is not None and credential.security_profile is not None:
            profile = credential.security_profile
        if profile is SecurityProfile.NONE:
            return AuthDecision(True, profile)
        if not tls and profile >= SecurityProfile.BASIC_TLS:
            return AuthDecision(False, profile, "profile needs TLS")
        if profile is SecurityProfile.CLIENT_CERT:
            ok = client_cert_cn is not None and client_cert_cn == station_id
            return AuthDecision(ok, profile, "" if ok else "no client certificate for station")
        basic = parse_basic_auth(authorization)
        if basic is None:
            return AuthDecision(False, profile, "missing basic credentials")
        if basic[0] != station_id:
            return AuthDecision(False, profile, "username is not the station id")
        if credential is None or credential.password_hash is None:
            return AuthDecision(False, profile, "station has no password")
        stored = credential.password_hash
        if not verify_station_password(basic[1], stored, self._credentials.key()):
            return AuthDecision(False, profile, "wrong password")
        if passwords.needs_rehash(stored):
            self._credentials.upgrade(station_id, basic[1], stored)
        return AuthDecision(True, profile)
