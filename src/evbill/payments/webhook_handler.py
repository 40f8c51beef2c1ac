"""Provider webhooks, verified and applied once: 3-D Secure results, expiries, voids, late
captures, refund results and settlements. Each event id is recorded, so a redelivery, even
after a restart, is refused with `WebhookReplayed` and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from evbill.ledger import postings
from evbill.money import Money
from evbill.payments.cards import CardPayments
from evbill.payments.context import PaymentContext, log
from evbill.payments.dunning import Dunning
from evbill.payments.provider import WebhookEvent, WebhookEventType, WebhookReplayed
from evbill.payments.tables import PaymentDunningRow, PaymentRefundRow, ProcessedWebhookRow

__all__ = ["PayoutLookup", "WebhookHandler", "WebhookOutcome"]


@runtime_checkable
class PayoutLookup(Protocol):
    """A provider whose API says what a payout paid (the sandbox's record, Stripe's payouts)."""

    def payout_amount(self, payout_id: str) -> Money | None: ...


@dataclass(frozen=True, slots=True)
class WebhookOutcome:
    event_id: str
    type: WebhookEventType
    outcome: str


class WebhookHandler:
    def __init__(self, ctx: PaymentContext, cards: CardPayments, dunning: Dunning) -> None:
        self.ctx = ctx
        self.cards = cards
        self.dunning = dunning

    def handle(self, headers: Mapping[str, str], body: bytes) -> WebhookOutcome:
        event = self.ctx.provider.parse_webhook(headers, body)  # forged / stale / malformed
        provider = self.ctx.provider.name
        with self.ctx.read() as r:
            seen = r.get(ProcessedWebhookRow, (provider, event.id))
        if seen is not None:
            raise WebhookReplayed(f"event id: {event.id!r} was processed at {seen.received_at}")
        outcome = self._apply(event)
        try:
            with self.ctx.session() as s:
                s.add(ProcessedWebhookRow(provider=provider, event_id=event.id,
                                          type=event.provider_type, outcome=outcome[:200],
                                          received_at=self.ctx.clock()))
                s.commit()
        except IntegrityError:
            raise WebhookReplayed(f"event id: {event.id!r} was processed concurrently") from None
        log.info("payments.webhook event_id=%s type=%s outcome=%s", event.id, event.type.value,
                 outcome)
        return WebhookOutcome(event.id, event.type, outcome)

    def _apply(self, event: WebhookEvent) -> str:
        kind = event.type
        if kind is WebhookEventType.SETTLEMENT_PAID:
            return self._payout(event)
        if kind in {WebhookEventType.REFUND_SUCCEEDED, WebhookEventType.REFUND_FAILED}:
            return self._refund_result(event)
        if event.authorization_id is None:
            return "ignored"
        with self.ctx.read() as r:
            row = self.ctx.hold_by_provider_ref(r, event.authorization_id)
        if row is None:
            return "ignored: unknown authorization"
        if kind in {WebhookEventType.CHALLENGE_SUCCEEDED, WebhookEventType.CHALLENGE_FAILED}:
            # The event says something changed; the provider's record says what.
            return self.cards.apply_provider_state(
                row, self.ctx.provider.retrieve(row.provider_ref))
        if kind in {WebhookEventType.AUTHORIZATION_EXPIRED,
                    WebhookEventType.AUTHORIZATION_VOIDED}:
            if row.status not in {"requires_action", "authorized"}:
                return f"unchanged ({row.status})"
            expired = kind is WebhookEventType.AUTHORIZATION_EXPIRED
            self.cards.release(row, "provider", event.provider_type, void=False,
                               status="expired" if expired else "released")
            return row.status
        if kind is WebhookEventType.CAPTURE_SUCCEEDED and row.status == "capture_failed":
            return "reconciled: " + self._reconcile_capture(row.id)
        return f"unchanged ({row.status})"

    def _payout(self, event: WebhookEvent) -> str:
        """Book a payout only for the amount the provider's own API reports for it: a signed
        body is the provider's word that something happened, not proof of the sum (a leaked
        secret must not be enough to book money)."""
        source = getattr(self.ctx.provider, "inner", self.ctx.provider)  # behind the retries
        payout_id = event.data.get("payout")
        if not isinstance(source, PayoutLookup) or not payout_id or event.amount is None:
            log.warning("payments.payout_unverifiable event_id=%s", event.id)
            return "not booked: the payout cannot be checked with the provider"
        reported = source.payout_amount(payout_id)
        if reported != event.amount:
            log.warning("payments.payout_mismatch event_id=%s payout=%s body=%s provider=%s",
                        event.id, payout_id, event.amount, reported)
            return f"not booked: the provider reports {reported} for {payout_id}"
        self.ctx.post(f"payments:payout:{self.ctx.provider.name}:{event.id}", event.id,
                      lambda m: postings.payout(m, self.ctx.provider.name, reported))
        return f"payout of {reported} booked"

    def _reconcile_capture(self, authorization_id: str) -> str:
        """A capture we gave up on went through after all: book it via its dunning item."""
        with self.ctx.read() as r:
            item = r.scalar(select(PaymentDunningRow).where(
                PaymentDunningRow.authorization_id == authorization_id))
        if item is None:
            return "no dunning item"
        return self.dunning.retry(item.id, actor="webhook")

    def _refund_result(self, event: WebhookEvent) -> str:
        if event.refund_id is None:
            return "ignored"
        with self.ctx.session() as s:
            refund = s.scalar(select(PaymentRefundRow)
                              .where(PaymentRefundRow.provider_ref == event.refund_id))
            if refund is None:
                return "ignored: unknown refund"
            status = "succeeded" if event.type is WebhookEventType.REFUND_SUCCEEDED else "failed"
            refund.status = status
            self.ctx.audit(s, "refund_" + status, refund.idempotency_key, "provider",
                           refund=event.refund_id)
            s.commit()
        return status
