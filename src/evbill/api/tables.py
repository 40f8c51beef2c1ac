"""API tables on the shared `Base`: users (drivers, operator staff), API keys, ad hoc payment
links, tariff ownership, customer-group tariffs (money itself lives in `payments`) and the
sign-in limiter's attempts.

Personal fields (`*_enc`) are Fernet ciphertext; `email_lookup` is a keyed hash. The index on
`sessions(id_token, started_at, id)` serves a driver's paged history.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from evbill.payments.tables import AdhocPaymentRow  # its home now; kept importable here
from evbill.store.tables import Base, IdTokenRow, SessionRow

__all__ = [
    "AdhocPaymentRow",
    "ApiKeyRow",
    "GroupTariffRow",
    "LoginFailureRow",
    "TariffOwnerRow",
    "UserRow",
]


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


class TariffOwnerRow(Base):
    """Which operator's network a tariff (all its versions) belongs to."""

    __tablename__ = "api_tariff_owners"

    tariff_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    operator_id: Mapped[str] = mapped_column(String(128), index=True)


class GroupTariffRow(Base):
    """A tariff for a customer group (id token `group_id`) on an operator's network."""

    __tablename__ = "api_group_tariffs"
    __table_args__ = (Index("ix_api_group_tariffs_scope", "operator_id", "group_id",
                            "valid_from"),)  # fmt: skip

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    operator_id: Mapped[str] = mapped_column(String(128))
    group_id: Mapped[str] = mapped_column(String(64))
    tariff_pk: Mapped[int] = mapped_column(ForeignKey("tariffs.pk"))
    valid_from: Mapped[datetime]
    created_at: Mapped[datetime]


class LoginFailureRow(Base):
    """A sign-in attempt counted against one limiter key (an HMAC of the key, so no address
    is stored in clear): a failure, or an attempt whose password is being checked. Rows in
    the window count; older ones are pruned."""

    __tablename__ = "api_login_failures"
    __table_args__ = (Index("ix_api_login_failures_key", "key_digest", "failed_at"),)

    attempt_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    failed_at: Mapped[datetime] = mapped_column(index=True)


# A driver's history: sessions of their tokens, newest first (keyset pagination).
SESSIONS_BY_TOKEN = Index(
    "ix_sessions_id_token_started",
    SessionRow.__table__.c.id_token,
    SessionRow.__table__.c.started_at,
    SessionRow.__table__.c.id,
)

# A driver's cards: id tokens by account.
TOKENS_BY_ACCOUNT = Index("ix_id_tokens_account", IdTokenRow.__table__.c.account)
