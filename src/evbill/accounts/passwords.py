"""Password hashing for OCPP security profile 1 (HTTP basic auth): scrypt with a random salt.

Stored form: `scrypt$<log2 n>$<r>$<p>$<salt b64>$<hash b64>`; parameters travel with the
hash so they can be raised later without breaking stored passwords.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Final

__all__ = ["PasswordError", "hash_password", "needs_rehash", "verify_password"]

_SCHEME: Final = "scrypt"
_LOG2_N: Final = 15  # n = 32768: ~32 MiB and tens of milliseconds per check
_R: Final = 8
_P: Final = 1
_SALT_BYTES: Final = 16
_HASH_BYTES: Final = 32
#: OCPP 2.0.1 BasicAuthPassword: 16 to 40 characters (1.6 AuthorizationKey: 16+ as well).
MIN_LENGTH: Final = 16
MAX_LENGTH: Final = 40


class PasswordError(ValueError):
    """A password that cannot be used, or a stored hash that cannot be read."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _derive(password: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=1 << log2_n, r=r, p=p,
        maxmem=256 * 1024 * 1024, dklen=_HASH_BYTES,
    )  # fmt: skip


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """The stored form of `password` (a fresh random salt unless one is given)."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise PasswordError(
            f"password: must be {MIN_LENGTH} to {MAX_LENGTH} characters "
            f"(OCPP BasicAuthPassword), got {len(password)}"
        )
    salt = salt if salt is not None else secrets.token_bytes(_SALT_BYTES)
    digest = _derive(password, salt, _LOG2_N, _R, _P)
    return f"{_SCHEME}${_LOG2_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def _parse(stored: str) -> tuple[int, int, int, bytes, bytes]:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != _SCHEME:
        raise PasswordError("password_hash: not an evbill scrypt hash")
    try:
        log2_n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        return log2_n, r, p, base64.b64decode(parts[4]), base64.b64decode(parts[5])
    except ValueError:
        raise PasswordError("password_hash: malformed parameters or base64") from None


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches the stored hash (constant-time comparison)."""
    log2_n, r, p, salt, expected = _parse(stored)
    return hmac.compare_digest(_derive(password, salt, log2_n, r, p), expected)


def needs_rehash(stored: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    log2_n, r, p, _salt, _hash = _parse(stored)
    return (log2_n, r, p) != (_LOG2_N, _R, _P)
