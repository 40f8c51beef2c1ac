"""Accounts tables on the shared `Base`: users (drivers and operator staff) and operator API
keys, with the index that finds a customer's cards (id tokens by account).

Personal fields (`*_enc`) are Fernet ciphertext; `email_lookup` is a keyed hash; an API key is
stored as the hash of its secret. The table names keep their original `api_` prefix (the schema
predates this package owning them; renaming a table would need a migration for no gain).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from evbill.store.tables import Base, IdTokenRow

__all__ = ["TOKENS_BY_ACCOUNT", "ApiKeyRow", "UserRow"]


class UserRow(Base):
    __tablename__ = "api_users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))  # driver | operator_admin | finance
    operator_id: Mapped[str | None] = mapped_column(String(128), index=True)
    email_lookup: Mapped[str] = mapped_column(String(64), unique=True)
    email_enc: Mapped[str] = mapped_column(Text)
    name_enc: Mapped[str] = mapped_column(Text)
    password_hash: Mapped[str] = mapped_column(String(255))
    token_account: Mapped[str] = mapped_column(String(128), unique=True)  # id_tokens.account
    group_id: Mapped[str | None] = mapped_column(String(64))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    operator_id: Mapped[str] = mapped_column(String(128), index=True)
    role: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(100))
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


# A customer's cards: id tokens by account.
TOKENS_BY_ACCOUNT = Index("ix_id_tokens_account", IdTokenRow.__table__.c.account)
