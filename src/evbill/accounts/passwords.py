"""Station passwords for OCPP security profile 1/2 (HTTP basic auth): a keyed hash.

Station passwords are 16–40 characters (OCPP BasicAuthPassword), machine secrets rather than
human ones, so they are stored as API keys are: `hmac_sha256$<salt b64>$<mac b64>`, an
HMAC-SHA256 under the installation's station-password key (`store.installation`). A check
costs microseconds, so a flood of wrong passwords cannot starve the server; a stolen table
is useless without the key. Slow hashes stay for human passwords (argon2id, `api.crypto`).

Older `pbkdf2_sha256$…` (and imported `scrypt$…`) hashes still verify; `needs_rehash` tells
the gateway to replace one with the keyed form after the station's next successful login.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from typing import Final

__all__ = ["MAX_LENGTH", "MIN_LENGTH", "PasswordError", "hash_password", "needs_rehash",
           "verify_password"]  # fmt: skip

_KEYED: Final = "hmac_sha256"

_PBKDF2: Final = "pbkdf2_sha256"
_SCRYPT: Final = "scrypt"
ITERATIONS: Final = 50_000
_MIN_ITERATIONS: Final = 10_000  # refuse to accept hashes weaker than this
_SALT_BYTES: Final = 16
#: OCPP 2.0.1 BasicAuthPassword: 16 to 40 characters (1.6 AuthorizationKey: 16+ as well).
MIN_LENGTH: Final = 16
MAX_LENGTH: Final = 40


class PasswordError(ValueError):
    """A password that cannot be used, or a stored hash that cannot be read."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise PasswordError("password_hash: malformed base64") from None


def _keyed(password: str, key: bytes, salt: bytes) -> bytes:
    return hmac.new(key, salt + password.encode("utf-8"), hashlib.sha256).digest()


def hash_password(password: str, *, key: bytes | None = None, salt: bytes | None = None) -> str:
    """The stored form of `password` (a fresh random salt unless one is given): keyed with
    the installation's `key`; without one, the older PBKDF2 form (tests, imports)."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise PasswordError(
            f"password: must be {MIN_LENGTH} to {MAX_LENGTH} characters "
            f"(OCPP BasicAuthPassword), got {len(password)}"
        )
    salt = salt if salt is not None else secrets.token_bytes(_SALT_BYTES)
    if key is not None:
        return f"{_KEYED}${_b64(salt)}${_b64(_keyed(password, key, salt))}"
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, ITERATIONS)
    return f"{_PBKDF2}${ITERATIONS}${_b64(salt)}${_b64(digest)}"


def _derive(password: str, stored: str) -> tuple[bytes, bytes]:
    """(derived, expected) for the stored hash's scheme and parameters."""
    parts = stored.split("$")
    try:
        if parts[0] == _PBKDF2 and len(parts) == 4:
            iterations = int(parts[1])
            if iterations < _MIN_ITERATIONS:
                raise PasswordError(f"password_hash: {iterations} iterations is too weak")
            salt, expected = _unb64(parts[2]), _unb64(parts[3])
            return hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt,
                                       iterations), expected  # fmt: skip
        if parts[0] == _SCRYPT and len(parts) == 6:
            log2_n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
            salt, expected = _unb64(parts[4]), _unb64(parts[5])
            derived = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=1 << log2_n, r=r,
                                     p=p, maxmem=256 * 1024 * 1024, dklen=len(expected))
            return derived, expected
    except ValueError as exc:
        if isinstance(exc, PasswordError):
            raise
        raise PasswordError("password_hash: malformed parameters") from None
    raise PasswordError("password_hash: not a pbkdf2_sha256 or scrypt hash")


def verify_password(password: str, stored: str, *, key: bytes | None = None) -> bool:
    """True when `password` matches the stored hash (constant-time comparison); a keyed hash
    needs the installation's `key`."""
    parts = stored.split("$")
    if parts[0] == _KEYED:
        if key is None or len(parts) != 3:
            raise PasswordError("password_hash: a keyed hash needs the installation key")
        salt, expected = _unb64(parts[1]), _unb64(parts[2])
        return hmac.compare_digest(_keyed(password, key, salt), expected)
    derived, expected = _derive(password, stored)
    return hmac.compare_digest(derived, expected)


def needs_rehash(stored: str) -> bool:
    """True when the hash is not today's scheme (the keyed hash)."""
    return stored.split("$", 1)[0] != _KEYED
