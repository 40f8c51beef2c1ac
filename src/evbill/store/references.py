"""From a payment reference to the CDR it pays for: the one lookup that receipts, settlement and
reconciliation share.

A reference is a CDR id (wallet and postpaid charges), a session id, or a session payment's
reference (an ad hoc hold: the gateway's `ses_…` hold, or the API page's payment id, which the
session billing hooks adopt as the session payment's reference).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from evbill.payments.tables import SessionPaymentRow
from evbill.store.tables import CdrRow

__all__ = ["cdr_for_reference"]

_MAX_SESSION_ID = 2**31 - 1  # the sessions.id column is a 32-bit integer on PostgreSQL


def cdr_for_reference(s: Session, reference: str) -> CdrRow | None:
    """The CDR `reference` names, or None (unknown, or the session is not rated yet)."""
    cdr = s.get(CdrRow, reference)
    if cdr is not None:
        return cdr
    if reference.isdigit() and int(reference) <= _MAX_SESSION_ID:
        cdr = s.scalars(select(CdrRow).where(CdrRow.session_id == int(reference))).first()
        if cdr is not None:
            return cdr
    paid_session = (select(SessionPaymentRow.session_id)
                    .where(SessionPaymentRow.reference == reference).scalar_subquery())
    return s.scalars(select(CdrRow).where(CdrRow.session_id == paid_session)).first()
