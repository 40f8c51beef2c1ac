"""The payments hook for documents: listeners told, after the commit, that a session was paid
(card capture or wallet debit) or a refund was booked. The payment stands whatever a listener
does; the payment tables themselves are the outbox a catch-up pass reads (see docs/payments.md).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

__all__ = ["PaymentListener", "notify_paid", "notify_refunded"]

log = logging.getLogger("evbill.payments")


class PaymentListener(Protocol):
    def on_paid(self, reference: str) -> None:
        """Session `reference` was paid by card or wallet (its charge row is committed)."""

    def on_refunded(self, refund_id: str, reference: str) -> None:
        """Refund `refund_id` of session `reference` is committed."""


def notify_paid(listeners: Sequence[PaymentListener], reference: str) -> None:
    for listener in listeners:
        try:
            listener.on_paid(reference)
        except Exception as exc:  # the payment is committed; the catch-up pass retries
            log.warning("payments.listener_failed event=paid reference=%s listener=%s "
                        "error=%s", reference, type(listener).__name__, exc)


def notify_refunded(listeners: Sequence[PaymentListener], refund_id: str,
                    reference: str) -> None:
    for listener in listeners:
        try:
            listener.on_refunded(refund_id, reference)
        except Exception as exc:  # the refund is committed; the catch-up pass retries
            log.warning("payments.listener_failed event=refunded refund_id=%s reference=%s "
                        "listener=%s error=%s", refund_id, reference,
                        type(listener).__name__, exc)
