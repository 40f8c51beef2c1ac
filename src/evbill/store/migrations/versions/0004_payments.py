"""payments: payment methods (token, brand, last4, expiry only), holds, charges, refunds,
wallets and their movements, dunning, processed webhooks, audit trail

Revision ID: 0004_payments
Revises: 0003_api
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_payments"
down_revision: str | None = "0003_api"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Column types frozen as they were at this revision (the DDL evbill.store.types rendered):
# a timezone-aware timestamp, and an exact decimal (NUMERIC; a decimal string on SQLite).
_UTC = sa.DateTime(timezone=True)
_DECIMAL = sa.Numeric(asdecimal=True).with_variant(sa.String(length=64), "sqlite")


def upgrade() -> None:
    op.create_table(
        "payment_audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", _UTC, nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_audit")),
    )
    op.create_index(
        op.f("ix_payment_audit_reference"), "payment_audit", ["reference"], unique=False
    )
    op.create_table(
        "payment_authorizations",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("provider_ref", sa.String(length=128), nullable=False),
        sa.Column("account", sa.String(length=128), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=True),
        sa.Column("payment_method_token", sa.String(length=128), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_held", _DECIMAL, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decline_code", sa.String(length=32), nullable=True),
        sa.Column("challenge_ref", sa.String(length=128), nullable=True),
        sa.Column("challenge_url", sa.Text(), nullable=True),
        sa.Column("increments", sa.Integer(), nullable=False),
        sa.Column("limit_reached", sa.Boolean(), nullable=False),
        sa.Column("expires_at", _UTC, nullable=True),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.CheckConstraint(
            "status IN ('requires_action', 'authorized', 'declined', 'captured', 'released', "
            "'expired', 'capture_failed')",
            name=op.f("ck_payment_authorizations_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_authorizations")),
        sa.UniqueConstraint("reference", name=op.f("uq_payment_authorizations_reference")),
    )
    op.create_index(
        op.f("ix_payment_authorizations_provider_ref"),
        "payment_authorizations",
        ["provider_ref"],
        unique=False,
    )
    op.create_index(
        "ix_payment_authorizations_status_expires",
        "payment_authorizations",
        ["status", "expires_at"],
        unique=False,
    )
    op.create_table(
        "payment_methods",
        sa.Column("token", sa.String(length=128), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("account", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("brand", sa.String(length=32), nullable=False),
        sa.Column("last4", sa.String(length=4), nullable=False),
        sa.Column("exp_month", sa.Integer(), nullable=False),
        sa.Column("exp_year", sa.Integer(), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.CheckConstraint("length(last4) = 4", name=op.f("ck_payment_methods_last4")),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_payment_methods")),
    )
    op.create_index(
        op.f("ix_payment_methods_account"), "payment_methods", ["account"], unique=False
    )
    op.create_table(
        "payment_wallets",
        sa.Column("account", sa.String(length=128), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("balance", _DECIMAL, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("account", name=op.f("pk_payment_wallets")),
    )
    op.create_table(
        "payment_webhooks",
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=200), nullable=False),
        sa.Column("received_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("provider", "event_id", name=op.f("pk_payment_webhooks")),
    )
    op.create_table(
        "payment_charges",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("account", sa.String(length=128), nullable=False),
        sa.Column("operator", sa.String(length=80), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("net", _DECIMAL, nullable=False),
        sa.Column("vat", sa.JSON(), nullable=False),
        sa.Column("gross", _DECIMAL, nullable=False),
        sa.Column("refunded", _DECIMAL, nullable=False),
        sa.Column("authorization_id", sa.String(length=64), nullable=True),
        sa.Column("provider_capture_ref", sa.String(length=128), nullable=True),
        sa.Column("released", _DECIMAL, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("ledger_transaction", sa.String(length=36), nullable=True),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.CheckConstraint(
            "method IN ('card', 'wallet', 'postpaid')", name=op.f("ck_payment_charges_method")
        ),
        sa.CheckConstraint("refunded <= gross", name=op.f("ck_payment_charges_refund_limit")),
        sa.ForeignKeyConstraint(
            ["authorization_id"],
            ["payment_authorizations.id"],
            name=op.f("fk_payment_charges_authorization_id_payment_authorizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_charges")),
        sa.UniqueConstraint("reference", name=op.f("uq_payment_charges_reference")),
    )
    op.create_index(
        op.f("ix_payment_charges_provider_capture_ref"),
        "payment_charges",
        ["provider_capture_ref"],
        unique=False,
    )
    op.create_table(
        "payment_dunning",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("authorization_id", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("amount", _DECIMAL, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("charge", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("next_attempt_at", _UTC, nullable=True),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'resolved', 'written_off')", name=op.f("ck_payment_dunning_status")
        ),
        sa.ForeignKeyConstraint(
            ["authorization_id"],
            ["payment_authorizations.id"],
            name=op.f("fk_payment_dunning_authorization_id_payment_authorizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_dunning")),
        sa.UniqueConstraint("authorization_id", name=op.f("uq_payment_dunning_authorization_id")),
    )
    op.create_index(
        "ix_payment_dunning_status", "payment_dunning", ["status", "next_attempt_at"], unique=False
    )
    op.create_table(
        "payment_wallet_movements",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account", sa.String(length=128), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount", _DECIMAL, nullable=False),
        sa.Column("balance_after", _DECIMAL, nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", _UTC, nullable=False),
        sa.CheckConstraint(
            "balance_after >= 0 OR reason IS NOT NULL",
            name=op.f("ck_payment_wallet_movements_negative_reason"),
        ),
        sa.ForeignKeyConstraint(
            ["account"],
            ["payment_wallets.account"],
            name=op.f("fk_payment_wallet_movements_account_payment_wallets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_wallet_movements")),
        sa.UniqueConstraint(
            "idempotency_key", name=op.f("uq_payment_wallet_movements_idempotency_key")
        ),
    )
    op.create_index(
        op.f("ix_payment_wallet_movements_account"),
        "payment_wallet_movements",
        ["account"],
        unique=False,
    )
    op.create_table(
        "payment_refunds",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("charge_id", sa.String(length=64), nullable=False),
        sa.Column("provider_ref", sa.String(length=128), nullable=True),
        sa.Column("amount", _DECIMAL, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("ledger_transaction", sa.String(length=36), nullable=True),
        sa.Column("created_at", _UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["charge_id"],
            ["payment_charges.id"],
            name=op.f("fk_payment_refunds_charge_id_payment_charges"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_refunds")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_payment_refunds_idempotency_key")),
    )
    op.create_index(
        op.f("ix_payment_refunds_charge_id"), "payment_refunds", ["charge_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_payment_refunds_charge_id"), table_name="payment_refunds")
    op.drop_table("payment_refunds")
    op.drop_index(
        op.f("ix_payment_wallet_movements_account"), table_name="payment_wallet_movements"
    )
    op.drop_table("payment_wallet_movements")
    op.drop_index("ix_payment_dunning_status", table_name="payment_dunning")
    op.drop_table("payment_dunning")
    op.drop_index(op.f("ix_payment_charges_provider_capture_ref"), table_name="payment_charges")
    op.drop_table("payment_charges")
    op.drop_table("payment_webhooks")
    op.drop_table("payment_wallets")
    op.drop_index(op.f("ix_payment_methods_account"), table_name="payment_methods")
    op.drop_table("payment_methods")
    op.drop_index("ix_payment_authorizations_status_expires", table_name="payment_authorizations")
    op.drop_index(
        op.f("ix_payment_authorizations_provider_ref"), table_name="payment_authorizations"
    )
    op.drop_table("payment_authorizations")
    op.drop_index(op.f("ix_payment_audit_reference"), table_name="payment_audit")
    op.drop_table("payment_audit")
