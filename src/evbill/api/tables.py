"""API tables on the shared `Base`: tariff ownership, customer-group tariffs and the sign-in
limiter's attempts. (Users and API keys are `evbill.accounts.tables`; ad hoc payment links and
money are `evbill.payments.tables`.)

The index on `sessions(id_token, started_at, id)` serves a driver's paged history.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from evbill.store.tables import Base, SessionRow

__all__ = ["GroupTariffRow", "LoginFailureRow", "TariffOwnerRow"]


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
