"""What every payment flow shares: the database, the provider, the ledger, the clock, settings,
id generation, and the two writes every flow makes (a ledger posting and an audit line).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from evbill.ledger.journal import Transaction
from evbill.ledger.postings import Meta
from evbill.ledger.service import LedgerService
from evbill.payments.events import PaymentListener
from evbill.payments.model import HoldNotFound, PaymentSettings
from evbill.payments.provider import PaymentProvider
from evbill.payments.tables import PaymentAuditRow, PaymentAuthorizationRow
from evbill.store.database import Database
from evbill.store.tables import Base

__all__ = ["PaymentContext", "new_id"]

log = logging.getLogger("evbill.payments")


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


@dataclass
class PaymentContext:
    db: Database
    provider: PaymentProvider
    ledger: LedgerService
    clock: Callable[[], datetime]
    settings: PaymentSettings = field(default_factory=PaymentSettings)
    ids: Callable[[str], str] = new_id
    listeners: Sequence[PaymentListener] = ()

    def session(self) -> Session:
        """A write session. Never call the provider or the ledger while one is open: on
        SQLite its BEGIN IMMEDIATE would hold the write lock the ledger needs."""
        return self.db.sessions()

    def read(self) -> Session:
        return self.db.read_sessions()

    def load_hold(self, reference: str) -> PaymentAuthorizationRow:
        """The hold of `reference`, read and detached (change it through `save`)."""
        with self.read() as r:
            return self.hold_by_reference(r, reference)

    def save(self, row: Base, *audit: tuple[str, str, str, dict[str, Any]]) -> None:
        """Write a (detached or new) row and audit lines in one short transaction."""
        with self.session() as s:
            s.merge(row)
            for action, reference, actor, detail in audit:
                self.audit(s, action, reference, actor, **detail)
            s.commit()

    def post(self, key: str, reference: str, build: Callable[[Meta], Transaction]) -> str:
        """Post to the ledger under `key` (a repeat returns the first transaction's id)."""
        txn = self.ledger.post(build(Meta(key=key, reference=reference, at=self.clock())))
        return txn.id

    def audit(
        self, session: Session, action: str, reference: str, actor: str, **detail: Any
    ) -> None:
        session.add(PaymentAuditRow(at=self.clock(), action=action, reference=reference,
                                    actor=actor, detail={k: str(v) for k, v in detail.items()}))
        log.info("payments.%s reference=%s actor=%s %s", action, reference, actor,
                 " ".join(f"{k}={v}" for k, v in detail.items()))

    @staticmethod
    def hold_by_reference(session: Session, reference: str) -> PaymentAuthorizationRow:
        row = session.scalar(select(PaymentAuthorizationRow)
                             .where(PaymentAuthorizationRow.reference == reference))
        if row is None:
            raise HoldNotFound(f"reference: no payment hold for {reference!r}")
        return row

    @staticmethod
    def hold_by_provider_ref(session: Session, provider_ref: str) -> PaymentAuthorizationRow | None:
        return session.scalar(select(PaymentAuthorizationRow)
                              .where(PaymentAuthorizationRow.provider_ref == provider_ref))
