"""Webhook signatures (`t=<unix>,v1=<hex HMAC-SHA256>` like Stripe) and replay protection.

The signed payload is `"<t>.<raw body>"`. Verification checks the signature first (a wrong
one is a forgery whatever its timestamp), then the timestamp against the tolerance in both
directions, then, after the caller has parsed the event id, whether that id was seen.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime, timedelta

from evbill.payments.provider import (
    WebhookReplayed,
    WebhookSignatureInvalid,
    WebhookStale,
)

__all__ = [
    "DEFAULT_TOLERANCE",
    "ReplayGuard",
    "header_value",
    "parse_signature_header",
    "sign",
    "verify_signature",
    "verify_timestamp",
]

#: Stripe's default: events signed more than five minutes away from now are refused.
DEFAULT_TOLERANCE = timedelta(minutes=5)


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The signature header value for `body` signed at unix time `timestamp`."""
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """A header by case-insensitive name (HTTP frameworks disagree on case)."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def parse_signature_header(header: str) -> tuple[int, tuple[str, ...]]:
    """`t=…,v1=…[,v1=…]` → (timestamp, v1 signatures). Several v1 during secret rotation."""
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            raise WebhookSignatureInvalid(f"signature header: item {key!r} is not key=value")
        if key == "t":
            if not value.isdigit():
                raise WebhookSignatureInvalid("signature header: t is not a unix timestamp")
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None:
        raise WebhookSignatureInvalid("signature header: no timestamp (t=)")
    if not signatures:
        raise WebhookSignatureInvalid("signature header: no v1 signature")
    return timestamp, tuple(signatures)


def verify_signature(header: str | None, body: bytes, secrets: tuple[str, ...]) -> int:
    """Check the HMAC against any of `secrets`; return the signed timestamp."""
    if not header:
        raise WebhookSignatureInvalid("signature header: missing")
    timestamp, signatures = parse_signature_header(header)
    for secret in secrets:
        expected = _mac(secret, timestamp, body)
        if any(hmac.compare_digest(expected, candidate) for candidate in signatures):
            return timestamp
    raise WebhookSignatureInvalid("signature header: no v1 signature matches the body")


def verify_timestamp(timestamp: int, now: datetime, tolerance: timedelta) -> None:
    """Refuse events signed too long ago (or too far in the future, a skewed forger)."""
    age = now.timestamp() - timestamp
    if abs(age) > tolerance.total_seconds():
        raise WebhookStale(
            f"signature timestamp: {timestamp} is {age:+.0f}s from now, "
            f"outside the {tolerance.total_seconds():.0f}s tolerance"
        )


class ReplayGuard:
    """Remembers accepted event ids for as long as their signatures could still verify.

    Past the tolerance window a replay is already refused as stale, so memory stays bounded.
    The payment flows keep their own durable record of processed events on top of this.
    """

    def __init__(self, tolerance: timedelta = DEFAULT_TOLERANCE) -> None:
        self._tolerance = tolerance
        self._seen: OrderedDict[str, datetime] = OrderedDict()

    def check_and_remember(self, event_id: str, now: datetime) -> None:
        self._forget_before(now - 2 * self._tolerance)
        if event_id in self._seen:
            raise WebhookReplayed(f"event id: {event_id!r} was already accepted")
        self._seen[event_id] = now

    def _forget_before(self, cutoff: datetime) -> None:
        while self._seen:
            oldest_id, seen_at = next(iter(self._seen.items()))
            if seen_at >= cutoff:
                return
            del self._seen[oldest_id]

    def __len__(self) -> int:
        return len(self._seen)
