"""Passwords (argon2id), personal fields encrypted at rest (Fernet) and keyed lookup hashes."""

from __future__ import annotations

import hashlib
import hmac

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken

__all__ = ["FieldCipher", "FieldDecryptError", "Passwords", "WeakPassword"]

MIN_PASSWORD = 10
MAX_PASSWORD = 256


class WeakPassword(ValueError):
    """A password too short or too long to accept."""


class FieldDecryptError(ValueError):
    """A stored encrypted field that the configured key cannot open."""


class Passwords:
    """argon2id hashing; parameters travel inside the hash so they can be raised later."""

    def __init__(self, *, time_cost: int, memory_kib: int) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)
        # Checked when the email is unknown, so a miss costs as long as a wrong password.
        self._dummy = self._hasher.hash("evbill-dummy-password")

    def hash(self, password: str) -> str:
        if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            raise WeakPassword(
                f"password: must be {MIN_PASSWORD} to {MAX_PASSWORD} characters, "
                f"got {len(password)}"
            )
        return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False


class FieldCipher:
    """Encrypts personal fields (names, emails) and derives the keyed hash used to look them up."""

    def __init__(self, key: str) -> None:
        self._fernet = Fernet(key.encode("ascii"))
        self._lookup_key = hmac.new(key.encode("ascii"), b"evbill-lookup", hashlib.sha256).digest()

    def encrypt(self, value: str) -> str:
        return self._fernet.encrypt(value.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise FieldDecryptError("field: cannot be decrypted with the configured key") from None

    def lookup(self, value: str) -> str:
        """Keyed hash of a normalised value (emails: trimmed, lower case)."""
        normal = value.strip().lower().encode("utf-8")
        return hmac.new(self._lookup_key, normal, hashlib.sha256).hexdigest()
