"""Secrets of one installation kept in its database: created once, on first use or by
`evbill db upgrade`, and shared by every process on the database (the key that station
passwords are hashed with lives here, so every gateway and CLI command agrees on it)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import String
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from evbill.store.database import Database
from evbill.store.tables import Base

__all__ = ["STATION_PASSWORD_KEY", "InstallationSecretRow", "installation_secret"]

#: The HMAC key of station passwords (`hmac_sha256$…` hashes).
STATION_PASSWORD_KEY = "station_password_key"


class InstallationSecretRow(Base):
    __tablename__ = "installation_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]


def installation_secret(db: Database, name: str) -> bytes:
    """The named secret, created (32 random bytes, hex) the first time anyone asks; two
    processes asking at once both get the one that was stored first."""
    with db.read_sessions() as s:
        row = s.get(InstallationSecretRow, name)
        if row is not None:
            return bytes.fromhex(row.value)
    try:
        with db.sessions() as s, s.begin():
            s.add(InstallationSecretRow(name=name, value=secrets.token_hex(32),
                                        created_at=datetime.now(UTC)))
    except IntegrityError:
        pass  # another process stored it first: use theirs
    with db.read_sessions() as s:
        stored = s.get(InstallationSecretRow, name)
        assert stored is not None
        return bytes.fromhex(stored.value)
