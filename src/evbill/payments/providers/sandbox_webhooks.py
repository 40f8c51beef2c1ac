"""The sandbox's webhooks: Stripe-shaped JSON events, signed `t=…,v1=…`, delivered or collected.

Amounts travel as integer minor units with a currency, as Stripe sends them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from evbill.money import Money, UnknownCurrency
from evbill.payments.provider import (
    WebhookEvent,
    WebhookEventType,
    WebhookMalformed,
    from_minor_units,
    to_minor_units,
)
from evbill.payments.webhooks import (
    DEFAULT_TOLERANCE,
    ReplayGuard,
    header_value,
    sign,
    verify_signature,
    verify_timestamp,
)

__all__ = ["SIGNATURE_HEADER", "SandboxWebhooks", "SignedWebhook"]

SIGNATURE_HEADER = "Sandbox-Signature"
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SignedWebhook:
    """One webhook as it would arrive over HTTP: headers and the raw body."""

    headers: dict[str, str]
    body: bytes
    event: WebhookEvent


class SandboxWebhooks:
    """Signs and delivers the sandbox's events; verifies incoming ones."""

    def __init__(
        self,
        secret: str,
        clock: Callable[[], datetime],
        next_id: Callable[[str], str],
        tolerance: timedelta = DEFAULT_TOLERANCE,
    ) -> None:
        self._secret = secret
        self._clock = clock
        self._next_id = next_id
        self.tolerance = tolerance
        self._guard = ReplayGuard(tolerance)
        self._subscribers: list[Callable[[dict[str, str], bytes], None]] = []
        self.outbox: list[SignedWebhook] = []

    def subscribe(self, callback: Callable[[dict[str, str], bytes], None]) -> None:
        """Deliver every future event to `callback(headers, body)` instead of the outbox."""
        self._subscribers.append(callback)

    def emit(
        self,
        event_type: WebhookEventType,
        *,
        authorization_id: str | None = None,
        capture_id: str | None = None,
        refund_id: str | None = None,
        amount: Money | None = None,
        data: Mapping[str, str] | None = None,
        object_id: str | None = None,
    ) -> WebhookEvent:
        now = self._clock()
        obj: dict[str, Any] = {
            "id": object_id or refund_id or capture_id or authorization_id,
            "authorization": authorization_id, "capture": capture_id, "refund": refund_id,
            **dict(data or {}),
        }
        if amount is not None:
            obj["amount"] = to_minor_units(amount)
            obj["currency"] = amount.currency.lower()
        event_id = self._next_id("evt")
        created = int(now.timestamp())
        payload = {"id": event_id, "object": "event", "type": event_type.value,
                   "created": created, "data": {"object": obj}}
        body = json.dumps(payload, sort_keys=True).encode("utf-8")
        headers = {SIGNATURE_HEADER: sign(body, self._secret, created),
                   "Content-Type": "application/json"}
        event = _event_from(payload)
        log.info("sandbox.webhook event_id=%s type=%s", event_id, event_type.value)
        if self._subscribers:
            for callback in self._subscribers:
                callback(dict(headers), body)
        else:
            self.outbox.append(SignedWebhook(headers, body, event))
        return event

    def parse(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        timestamp = verify_signature(header_value(headers, SIGNATURE_HEADER), body,
                                     (self._secret,))
        now = self._clock()
        verify_timestamp(timestamp, now, self.tolerance)
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise WebhookMalformed("body: not JSON") from None
        event = _event_from(payload)
        self._guard.check_and_remember(event.id, now)
        return event


def _event_from(payload: object) -> WebhookEvent:
    if not isinstance(payload, dict):
        raise WebhookMalformed("body: not a JSON object")
    try:
        event_id, type_name, created = payload["id"], payload["type"], payload["created"]
        obj = payload["data"]["object"]
    except (KeyError, TypeError):
        raise WebhookMalformed("body: missing id, type, created or data.object") from None
    if not (isinstance(event_id, str) and isinstance(type_name, str)
            and isinstance(created, int) and isinstance(obj, dict)):
        raise WebhookMalformed("body: id/type/created/data.object have the wrong types")
    try:
        event_type = WebhookEventType(type_name)
    except ValueError:
        event_type = WebhookEventType.OTHER
    amount = None
    if "amount" in obj:
        try:
            amount = from_minor_units(int(obj["amount"]), str(obj["currency"]).upper())
        except (KeyError, ValueError, UnknownCurrency):
            raise WebhookMalformed("data.object: amount/currency unreadable") from None
    extra = {k: str(v) for k, v in obj.items()
             if k not in {"authorization", "capture", "refund", "amount", "currency", "id"}
             and v is not None}
    return WebhookEvent(
        id=event_id, type=event_type, created_at=datetime.fromtimestamp(created, UTC),
        provider_type=type_name, authorization_id=obj.get("authorization"),
        capture_id=obj.get("capture"), refund_id=obj.get("refund"), amount=amount, data=extra,
    )
