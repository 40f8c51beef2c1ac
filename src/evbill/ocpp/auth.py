"""Station authentication at the WebSocket handshake: OCPP security profiles 0–3.

Profile 1 is HTTP Basic (username = station id) over ws://, profile 2 the same over wss://,
profile 3 a TLS client certificate whose CN is the station id. The profile is per station,
falling back to the global setting. Only password hashes are stored; the check lives in
`verify_station_password`, the one function the accounts module will replace or call.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from evbill.store.database import Database

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
# Station passwords are 16–40 random characters (OCPP 2.0.1 BasicAuthPassword), so a
# moderate work factor suffices and keeps reconnect storms of thousands of stations cheap.
_ITERATIONS = 20_000


class SecurityProfile(IntEnum):
    NONE = 0  # no authentication (development only)
    BASIC = 1  # HTTP Basic over ws://
    BASIC_TLS = 2  # HTTP Basic over wss://
    CLIENT_CERT = 3  # TLS client certificate


def hash_station_password(
    password: str, *, salt: bytes | None = None, iterations: int = _ITERATIONS
) -> str:
    """`pbkdf2_sha256$iterations$salt$hash` (base64), the only form a password is stored in."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    b64 = base64.b64encode
    return f"{_SCHEME}${iterations}${b64(salt).decode()}${b64(digest).decode()}"


def verify_station_password(password: str, stored_hash: str) -> bool:
    """True if `password` matches `stored_hash` (constant-time comparison)."""
    try:
        scheme, iterations, salt, digest = stored_hash.split("$")
        if scheme != _SCHEME:
            return False
        expected = base64.b64decode(digest, validate=True)
        actual = hashlib.pbkdf2_hmac(
            "sha256", password.encode(), base64.b64decode(salt, validate=True), int(iterations)
        )
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(actual, expected)


@dataclass(frozen=True, slots=True)
class StationCredential:
    """What the store knows to authenticate one station."""

    password_hash: str | None = None
    security_profile: SecurityProfile | None = None  # None: the global setting applies


class StationCredentials(Protocol):
    """Where credentials come from (the store's stations, or a fixed table)."""

    def lookup(self, station_id: str) -> StationCredential | None: ...


class StaticCredentials:
    """A fixed table of credentials (configuration, or before the accounts module exists)."""

    def __init__(self, table: Mapping[str, StationCredential] | None = None) -> None:
        self._table = dict(table or {})

    def lookup(self, station_id: str) -> StationCredential | None:
        return self._table.get(station_id)


class StoreCredentials:
    """Password hashes from the store's `stations` table; the profile is the global one."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def lookup(self, station_id: str) -> StationCredential | None:
        from evbill.store.tables import StationRow

        with self._db.sessions() as session:
            row = session.get(StationRow, station_id)
            return None if row is None else StationCredential(password_hash=row.password_hash)


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
    """Decides whether a handshake may proceed; blocking (store, PBKDF2): run it in a pool."""

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
        if not verify_station_password(basic[1], credential.password_hash):
            return AuthDecision(False, profile, "wrong password")
        return AuthDecision(True, profile)
