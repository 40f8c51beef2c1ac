"""Payment tables on the shared declarative `Base`: methods, holds, charges, refunds, wallets,
dunning, processed webhooks and the audit trail. No card number or CVC has a column here.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from evbill.store.tables import Base

__all__ = [
    "AdhocPaymentRow",
    "PaymentAccountModeRow",
    "PaymentAuditRow",
    "PaymentAuthorizationRow",
    "PaymentChargeRow",
    "PaymentDunningRow",
    "PaymentMandateRow",
    "PaymentMethodRow",
    "PaymentRefundRow",
    "PaymentWalletMovementRow",
    "PaymentWalletRow",
    "ProcessedWebhookRow",
    "SettlementFailureRow",
]


class PaymentMethodRow(Base):
    """A vaulted payment method: the provider's token and display data, nothing else."""

    __tablename__ = "payment_methods"
    __table_args__ = (CheckConstraint("length(last4) = 4", name="last4"),)

    token: Mapped[str] = mapped_column(String(128), primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    account: Mapped[str] = mapped_column(String(128), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # card | wallet
    brand: Mapped[str] = mapped_column(String(32))
    last4: Mapped[str] = mapped_column(String(4))
    exp_month: Mapped[int] = mapped_column(Integer)
    exp_year: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]


class PaymentAuthorizationRow(Base):
    """A hold placed (or attempted) at a provider for a session or a wallet top-up."""

    __tablename__ = "payment_authorizations"
    __table_args__ = (
        Index("ix_payment_authorizations_status_expires", "status", "expires_at"),
        CheckConstraint(
            "status IN ('requires_action', 'authorized', 'declined', 'captured', 'released', "
            "'expired', 'capture_failed')", name="status",
        ),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # our id
    reference: Mapped[str] = mapped_column(String(200), unique=True)  # session ref / top-up key
    purpose: Mapped[str] = mapped_column(String(16))  # session | topup
    provider: Mapped[str] = mapped_column(String(32))
    provider_ref: Mapped[str] = mapped_column(String(128), index=True)
    account: Mapped[str] = mapped_column(String(128))
    station_id: Mapped[str | None] = mapped_column(String(64))
    payment_method_token: Mapped[str] = mapped_column(String(128))
    currency: Mapped[str] = mapped_column(String(3))
    amount_held: Mapped[Decimal]
    status: Mapped[str] = mapped_column(String(16))
    decline_code: Mapped[str | None] = mapped_column(String(32))
    challenge_ref: Mapped[str | None] = mapped_column(String(128))
    challenge_url: Mapped[str | None] = mapped_column(Text)
    increments: Mapped[int] = mapped_column(Integer, default=0)
    limit_reached: Mapped[bool] = mapped_column(Boolean, default=False)
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PaymentChargeRow(Base):
    """What one session cost and how it was paid: a card capture, the wallet or the account."""

    __tablename__ = "payment_charges"
    __table_args__ = (
        CheckConstraint("method IN ('card', 'wallet', 'postpaid')", name="method"),
        CheckConstraint("refunded <= gross", name="refund_limit"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    reference: Mapped[str] = mapped_column(String(200), unique=True)  # the session ref
    method: Mapped[str] = mapped_column(String(16))
    account: Mapped[str] = mapped_column(String(128))
    operator: Mapped[str] = mapped_column(String(80))
    currency: Mapped[str] = mapped_column(String(3))
    net: Mapped[Decimal]
    vat: Mapped[list[dict[str, str]]] = mapped_column(JSON)  # [{country, rate, amount}]
    gross: Mapped[Decimal]
    refunded: Mapped[Decimal]
    authorization_id: Mapped[str | None] = mapped_column(
        ForeignKey("payment_authorizations.id")
    )
    provider_capture_ref: Mapped[str | None] = mapped_column(String(128), index=True)
    released: Mapped[Decimal | None]  # hold released on capture
    status: Mapped[str] = mapped_column(String(16))  # captured | paid | posted | dunning
    ledger_transaction: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PaymentRefundRow(Base):
    __tablename__ = "payment_refunds"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    charge_id: Mapped[str] = mapped_column(ForeignKey("payment_charges.id"), index=True)
    provider_ref: Mapped[str | None] = mapped_column(String(128))
    amount: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(128))
    ledger_transaction: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime]


class PaymentWalletRow(Base):
    """A driver's prepaid balance in one currency (the ledger's wallet account mirrors it)."""

    __tablename__ = "payment_wallets"

    account: Mapped[str] = mapped_column(String(128), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))
    balance: Mapped[Decimal]
    updated_at: Mapped[datetime]


class PaymentWalletMovementRow(Base):
    """Every change of a wallet balance; a negative balance always carries its reason."""

    __tablename__ = "payment_wallet_movements"
    __table_args__ = (
        CheckConstraint("balance_after >= 0 OR reason IS NOT NULL", name="negative_reason"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(ForeignKey("payment_wallets.account"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # topup | spend | refund
    amount: Mapped[Decimal]  # signed: + into the wallet, - out of it
    balance_after: Mapped[Decimal]
    reference: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class PaymentDunningRow(Base):
    """A capture that kept failing, waiting for the operator (or the next retry)."""

    __tablename__ = "payment_dunning"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'resolved', 'written_off')", name="status"),
        Index("ix_payment_dunning_status", "status", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    authorization_id: Mapped[str] = mapped_column(
        ForeignKey("payment_authorizations.id"), unique=True
    )
    reference: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    charge: Mapped[dict[str, Any]] = mapped_column(JSON)  # the priced charge to capture
    attempts: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    next_attempt_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ProcessedWebhookRow(Base):
    """Every webhook event handled, so a redelivery (even after a restart) changes nothing."""

    __tablename__ = "payment_webhooks"

    provider: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime]


class PaymentAuditRow(Base):
    """The trail: who voided, refunded, adjusted or retried what, when and why."""

    __tablename__ = "payment_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(32))
    reference: Mapped[str] = mapped_column(String(200), index=True)
    actor: Mapped[str] = mapped_column(String(128))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class PaymentTokenBindingRow(Base):
    """How a driver's id token pays: an ad hoc card hold, a prepaid wallet or an account."""

    __tablename__ = "payment_token_bindings"
    __table_args__ = (
        CheckConstraint("mode IN ('adhoc', 'wallet', 'postpaid')", name="mode"),
    )

    id_token: Mapped[str] = mapped_column(String(255), primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))
    account: Mapped[str] = mapped_column(String(128))
    payment_method_token: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime]


class SessionPaymentRow(Base):
    """One charging session's payment: its hold (ad hoc), what was charged and at which CDR
    revision, so a re-rating is corrected by an adjustment and never charged twice."""

    __tablename__ = "session_payments"
    __table_args__ = (Index("ix_session_payments_open", "station_id", "id_token", "status"),)

    reference: Mapped[str] = mapped_column(String(200), primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))
    station_id: Mapped[str] = mapped_column(String(64))
    id_token: Mapped[str] = mapped_column(String(255))
    account: Mapped[str] = mapped_column(String(128))
    session_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    status: Mapped[str] = mapped_column(String(16))  # holding | claimed | charged | released
    charge_reference: Mapped[str | None] = mapped_column(String(200))
    charged_net: Mapped[Decimal | None]
    charged_gross: Mapped[Decimal | None]
    currency: Mapped[str | None] = mapped_column(String(3))
    cdr_revision: Mapped[int | None]
    adjustments: Mapped[int] = mapped_column(Integer, default=0)
    stop_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class StationSettlementRow(Base):
    """A payment taken by a station's own terminal (OCPP 2.1 NotifySettlement)."""

    __tablename__ = "payment_station_settlements"

    psp_ref: Mapped[str] = mapped_column(String(255), primary_key=True)
    station_id: Mapped[str] = mapped_column(String(64))
    transaction_id: Mapped[str | None] = mapped_column(String(64))
    session_id: Mapped[int | None] = mapped_column(Integer, index=True)
    status: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    receipt_id: Mapped[str | None] = mapped_column(String(50))
    settled_at: Mapped[datetime]
    reconciled: Mapped[str] = mapped_column(String(200))
    ledger_transaction: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime]


class AdhocPaymentRow(Base):
    """The link between an ad hoc payer, their EVSE and the payment service's hold (whose
    reference is this row's id)."""

    __tablename__ = "api_adhoc_payments"
    __table_args__ = (Index("ix_api_adhoc_payments_station", "station_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    access_hash: Mapped[str] = mapped_column(String(64))
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"))
    evse_id: Mapped[int]
    status: Mapped[str] = mapped_column(String(24))  # pending | starting | settled | failed
    id_token: Mapped[str] = mapped_column(String(64), unique=True)
    command_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PaymentAccountModeRow(Base):
    """How an account's sessions pay when its token has no binding of its own, as the operator
    set it (`evbill accounts add A --mode …`); the account `*` holds the network default."""

    __tablename__ = "payment_account_modes"
    __table_args__ = (CheckConstraint("mode IN ('wallet', 'postpaid')", name="mode"),)

    account: Mapped[str] = mapped_column(String(128), primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime]


class SettlementFailureRow(Base):
    """A session whose settlement raised: retried with back-off, then dead-lettered (`dead`)
    for the operator, with its last error; `resolved` once a retry or the operator settled it.
    `reference` is the settled item's key (the CDR id, the session payment or ad hoc id)."""

    __tablename__ = "settlement_failures"
    __table_args__ = (Index("ix_settlement_failures_due", "status", "next_attempt_at"),)

    reference: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # driver | session | adhoc
    station_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # retrying | dead | resolved
    attempts: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str] = mapped_column(Text)
    first_failed_at: Mapped[datetime]
    last_failed_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]


class PaymentMandateRow(Base):
    """A SEPA direct debit mandate a postpaid account signed (`evbill accounts mandate`): its
    invoices are collected by direct debit (UNTDID 4461 code 59) while it is active.
    `active_account` is the account while the mandate is active and NULL once revoked, so an
    account has at most one active mandate (unique; NULLs do not collide)."""

    __tablename__ = "payment_mandates"
    __table_args__ = (CheckConstraint("status IN ('active', 'revoked')", name="status"),)

    reference: Mapped[str] = mapped_column(String(35), primary_key=True)
    account: Mapped[str] = mapped_column(String(128), index=True)
    active_account: Mapped[str | None] = mapped_column(String(128), unique=True)
    debtor_iban: Mapped[str] = mapped_column(String(34))
    signed_on: Mapped[date]
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
