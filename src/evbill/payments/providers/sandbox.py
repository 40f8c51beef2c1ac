"""The built-in sandbox processor: a realistic card processor in memory, for the demo and tests.

It behaves like a real one where evbill's correctness depends on it: test cards that
decline or demand 3-D Secure, holds that expire, Stripe-exact idempotency (same key and
parameters → same answer, no second charge; same key, other parameters → an error),
injectable latency, timeouts and 5xx faults, and HMAC-signed webhooks. The clock is passed
in, so tests are exact.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from evbill.clock import utc_now
from evbill.money import Money
from evbill.payments.provider import (
    Authorization,
    AuthorizationExpired,
    AuthorizationNotFound,
    AuthorizationState,
    AuthorizationStatus,
    Capture,
    ChallengeNotFound,
    DeclineCode,
    IdempotencyConflict,
    InvalidPaymentRequest,
    PaymentDeclined,
    PaymentError,
    PaymentMethod,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    Refund,
    RefundExceedsCaptured,
    WebhookEvent,
    WebhookEventType,
    to_minor_units,
)
from evbill.payments.providers.sandbox_faults import FaultInjector, FaultKind
from evbill.payments.providers.sandbox_vault import Behaviour, CardVault
from evbill.payments.providers.sandbox_webhooks import SandboxWebhooks, SignedWebhook
from evbill.payments.reconcile import ProviderRecord, RecordKind

__all__ = ["SandboxProvider", "SignedWebhook"]

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(slots=True)
class _Hold:
    id: str
    token: str
    amount: Money
    state: AuthorizationState
    created_at: datetime
    expires_at: datetime | None
    metadata: dict[str, str]
    decline_code: DeclineCode | None = None
    challenge_ref: str | None = None
    captured: Money | None = None


@dataclass(slots=True)
class _CaptureRecord:
    id: str
    authorization_id: str
    amount: Money
    refunded: Money
    settled: bool = False
    refunds: list[str] = field(default_factory=list)
    at: datetime | None = None


class SandboxProvider:
    """A `PaymentProvider` and `TokenVault` with no network behind it."""

    name = "sandbox"

    def __init__(
        self,
        *,
        webhook_secret: str | None = None,  # None: a random secret, known to this process only
        clock: Callable[[], datetime] = utc_now,
        authorization_ttl: timedelta = timedelta(days=7),
        challenge_ttl: timedelta = timedelta(minutes=15),
        latency_s: float = 0.0,
        timeout_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        faults: FaultInjector | None = None,
        namespace: str | None = None,
    ) -> None:
        self._clock = clock
        self._ns = namespace if namespace is not None else secrets.token_hex(3)
        self.authorization_ttl = authorization_ttl
        self.challenge_ttl = challenge_ttl
        self.latency_s = latency_s
        self.timeout_s = timeout_s
        self._sleep = sleep
        self.faults = faults if faults is not None else FaultInjector()
        self.vault = CardVault(clock, self._ns)
        self.webhooks = SandboxWebhooks(webhook_secret or "whsec_" + secrets.token_urlsafe(32),
                                        clock, self._next_id)
        self._payouts: dict[str, Money] = {}  # payout id → amount paid out
        self._holds: dict[str, _Hold] = {}
        self._captures: dict[str, _CaptureRecord] = {}
        self._ledger: list[ProviderRecord] = []  # refunds and payouts, for `records`
        self._challenges: dict[str, str] = {}
        self._idempotency: dict[str, tuple[str, object]] = {}
        self._seq = 0
        #: Every operation the processor executed (not replayed, not failed before arrival).
        self.executed: list[tuple[str, str]] = []

    # --- vault ---------------------------------------------------------------------------
    def tokenize(self, card_number: str, exp_month: int, exp_year: int, cvc: str) -> PaymentMethod:
        return self.vault.tokenize(card_number, exp_month, exp_year, cvc)

    def describe(self, token: str) -> PaymentMethod:
        return self.vault.describe(token)

    def claim(self, token: str, customer: str) -> PaymentMethod:
        return self.vault.claim(token, customer)

    @property
    def outbox(self) -> list[SignedWebhook]:
        """Webhooks signed and not delivered to a subscriber (collected for tests)."""
        return self.webhooks.outbox

    def subscribe(self, callback: Callable[[dict[str, str], bytes], None]) -> None:
        self.webhooks.subscribe(callback)

    # --- the provider interface ----------------------------------------------------------
    def authorize(
        self,
        amount: Money,
        payment_method_token: str,
        idempotency_key: str,
        metadata: Mapping[str, str],
    ) -> Authorization:
        params = {
            "amount": _money_param(amount), "token": payment_method_token,
            "metadata": dict(sorted(metadata.items())),
        }
        return self._call(
            "authorize", idempotency_key, params,
            lambda: self._authorize(amount, payment_method_token, dict(metadata)),
        )

    def increment(
        self, authorization_id: str, new_amount: Money, idempotency_key: str
    ) -> Authorization:
        params = {"authorization": authorization_id, "amount": _money_param(new_amount)}
        return self._call(
            "increment", idempotency_key, params,
            lambda: self._increment(authorization_id, new_amount),
        )

    def capture(self, authorization_id: str, amount: Money, idempotency_key: str) -> Capture:
        params = {"authorization": authorization_id, "amount": _money_param(amount)}
        return self._call(
            "capture", idempotency_key, params, lambda: self._capture(authorization_id, amount)
        )

    def void(self, authorization_id: str, idempotency_key: str) -> Authorization:
        return self._call(
            "void", idempotency_key, {"authorization": authorization_id},
            lambda: self._void(authorization_id),
        )

    def refund(self, capture_id: str, amount: Money | None, idempotency_key: str) -> Refund:
        params = {"capture": capture_id, "amount": _money_param(amount) if amount else None}
        return self._call(
            "refund", idempotency_key, params, lambda: self._refund(capture_id, amount)
        )

    def retrieve(self, authorization_id: str) -> Authorization:
        self._network("retrieve", executed=False)
        return self._view(self._hold(authorization_id))

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        return self.webhooks.parse(headers, body)

    # --- sandbox-only controls -----------------------------------------------------------
    def complete_challenge(self, challenge_ref: str, success: bool) -> Authorization:
        """The driver passes (or fails) 3-D Secure at the issuer's page."""
        hold_id = self._challenges.get(challenge_ref)
        if hold_id is None:
            raise ChallengeNotFound(f"challenge_ref: {challenge_ref!r} is unknown")
        hold = self._hold(hold_id)
        if hold.state is not AuthorizationState.REQUIRES_ACTION:
            raise InvalidPaymentRequest(
                f"challenge_ref: {challenge_ref!r} is no longer pending ({hold.state.value})"
            )
        if success:
            hold.state = AuthorizationState.AUTHORIZED
            hold.expires_at = self._clock() + self.authorization_ttl
            event = WebhookEventType.CHALLENGE_SUCCEEDED
        else:
            hold.state = AuthorizationState.DECLINED
            hold.decline_code = DeclineCode.AUTHENTICATION_FAILED
            event = WebhookEventType.CHALLENGE_FAILED
        self.webhooks.emit(event, authorization_id=hold.id, amount=hold.amount)
        return self._view(hold)

    def expire_due(self) -> list[str]:
        """Expire every hold whose time is up (a processor does this on its own)."""
        return [hold.id for hold in list(self._holds.values()) if self._expire_if_due(hold)]

    def settle(self) -> list[WebhookEvent]:
        """Pay out captured minus refunded, per currency, since the last settlement."""
        by_currency: dict[str, list[_CaptureRecord]] = {}
        for record in self._captures.values():
            if not record.settled:
                by_currency.setdefault(record.amount.currency, []).append(record)
        events = []
        for currency, records in sorted(by_currency.items()):
            net = Money.zero(currency)
            for record in records:
                net = net + record.amount - record.refunded
                record.settled = True
            ids = ",".join(record.id for record in records)
            payout_id = self._next_id("po")
            self._payouts[payout_id] = net
            event = self.webhooks.emit(
                WebhookEventType.SETTLEMENT_PAID, amount=net,
                data={"captures": ids, "payout": payout_id}, object_id=payout_id,
            )
            self._ledger.append(ProviderRecord(RecordKind.PAYOUT, event.id, net, self._clock()))
            events.append(event)
        return events

    def payout_amount(self, payout_id: str) -> Money | None:
        """What the sandbox paid out under `payout_id` (None: no such payout)."""
        return self._payouts.get(payout_id)

    def records(self, since: datetime | None = None) -> list[ProviderRecord]:
        """Captures, refunds and payouts since `since`, as a processor's reports list them."""
        captures = [ProviderRecord(RecordKind.CAPTURE, c.id, c.amount, c.at or self._clock(),
                                   c.authorization_id) for c in self._captures.values()]
        found = sorted([*captures, *self._ledger], key=lambda r: r.at)
        return [r for r in found if since is None or r.at >= since]

    def forget(self, provider_ref: str) -> None:
        """Test support: drop a record from the reports (a processor-side difference)."""
        self._captures.pop(provider_ref, None)
        self._ledger = [r for r in self._ledger if r.provider_ref != provider_ref]

    def authorizations(self) -> list[Authorization]:
        """Every hold the sandbox has, in creation order (for tests and the demo)."""
        return [self._view(hold) for hold in self._holds.values()]

    # --- operations, executed once per idempotency key ------------------------------------
    def _authorize(self, amount: Money, token: str, metadata: dict[str, str]) -> Authorization:
        _positive(amount, "amount")
        behaviour, code = self.vault.behaviour(token)
        now = self._clock()
        hold = _Hold(self._next_id("auth"), token, amount, AuthorizationState.AUTHORIZED, now,
                     now + self.authorization_ttl, metadata)
        if behaviour is Behaviour.DECLINE:
            hold.state, hold.decline_code, hold.expires_at = AuthorizationState.DECLINED, code, None
        elif behaviour is Behaviour.CHALLENGE:
            hold.state = AuthorizationState.REQUIRES_ACTION
            hold.challenge_ref = self._next_id("chl")
            hold.expires_at = now + self.challenge_ttl
            self._challenges[hold.challenge_ref] = hold.id
        self._holds[hold.id] = hold
        log.info("sandbox.authorize authorization_id=%s state=%s amount=%s",
                 hold.id, hold.state.value, amount)
        return self._view(hold)

    def _increment(self, authorization_id: str, new_amount: Money) -> Authorization:
        hold = self._capturable(authorization_id, "increment")
        if new_amount.currency != hold.amount.currency or new_amount <= hold.amount:
            raise InvalidPaymentRequest(
                f"new_amount: {new_amount} must exceed the authorized {hold.amount}"
            )
        behaviour, _ = self.vault.behaviour(hold.token)
        if behaviour is Behaviour.NO_INCREMENT:
            raise PaymentDeclined(
                DeclineCode.INSUFFICIENT_FUNDS, "the issuer refused the increment"
            )
        hold.amount = new_amount
        return self._view(hold)

    def _capture(self, authorization_id: str, amount: Money) -> Capture:
        hold = self._capturable(authorization_id, "capture")
        _positive(amount, "amount")
        if amount.currency != hold.amount.currency or amount > hold.amount:
            raise InvalidPaymentRequest(
                f"amount: {amount} exceeds the authorized {hold.amount}"
            )
        hold.state, hold.captured = AuthorizationState.CAPTURED, amount
        record = _CaptureRecord(self._next_id("cap"), hold.id, amount, Money.zero(amount.currency),
                                at=self._clock())
        self._captures[record.id] = record
        self.webhooks.emit(WebhookEventType.CAPTURE_SUCCEEDED, authorization_id=hold.id,
                           capture_id=record.id, amount=amount)
        return Capture(record.id, hold.id, amount, hold.amount - amount)

    def _void(self, authorization_id: str) -> Authorization:
        hold = self._hold(authorization_id)
        voidable = {AuthorizationState.AUTHORIZED, AuthorizationState.REQUIRES_ACTION}
        if hold.state not in voidable:
            raise InvalidPaymentRequest(
                f"authorization_id: {authorization_id!r} is {hold.state.value}, cannot void"
            )
        hold.state = AuthorizationState.VOIDED
        self.webhooks.emit(WebhookEventType.AUTHORIZATION_VOIDED, authorization_id=hold.id,
                           amount=hold.amount)
        return self._view(hold)

    def _refund(self, capture_id: str, amount: Money | None) -> Refund:
        record = self._captures.get(capture_id)
        if record is None:
            raise InvalidPaymentRequest(f"capture_id: {capture_id!r} is unknown")
        remaining = record.amount - record.refunded
        amount = remaining if amount is None else amount
        _positive(amount, "amount")
        if amount.currency != remaining.currency or amount > remaining:
            raise RefundExceedsCaptured(
                f"amount: {amount} exceeds what is left to refund on {capture_id} ({remaining})"
            )
        record.refunded = record.refunded + amount
        refund = Refund(self._next_id("re"), capture_id, amount)
        record.refunds.append(refund.id)
        self._ledger.append(ProviderRecord(RecordKind.REFUND, refund.id, amount, self._clock()))
        self.webhooks.emit(WebhookEventType.REFUND_SUCCEEDED, authorization_id=
                           record.authorization_id, capture_id=capture_id, refund_id=refund.id,
                           amount=amount)
        return refund

    # --- plumbing ------------------------------------------------------------------------
    def _call(self, op: str, key: str, params: dict[str, Any], run: Callable[[], T]) -> T:
        """Network behaviour around one idempotent operation."""
        if not key:
            raise InvalidPaymentRequest(f"idempotency_key: required for {op}")
        fault = self._network(op, executed=True)
        fingerprint = json.dumps({"op": op, **params}, sort_keys=True)
        try:
            result = self._idempotent(op, key, fingerprint, run)
        except PaymentError:
            if fault is FaultKind.TIMEOUT:
                raise ProviderTimeout(f"{op}: no response within {self.timeout_s}s") from None
            raise
        if fault is FaultKind.TIMEOUT:
            log.info("sandbox.response_lost operation=%s idempotency_key=%s", op, key)
            raise ProviderTimeout(f"{op}: no response within {self.timeout_s}s")
        return result

    def _network(self, op: str, *, executed: bool) -> FaultKind | None:
        """Latency and injected faults. Returns TIMEOUT if the response is to be lost."""
        if self.latency_s:
            self._sleep(min(self.latency_s, self.timeout_s))
        fault = self.faults.next_fault(op)
        if fault is None and self.latency_s > self.timeout_s:
            fault = FaultKind.TIMEOUT
        if fault is FaultKind.UNAVAILABLE:
            raise ProviderUnavailable(f"{op}: sandbox answered HTTP 503")
        if fault is FaultKind.TIMEOUT_BEFORE or (fault is FaultKind.TIMEOUT and not executed):
            raise ProviderTimeout(f"{op}: no response within {self.timeout_s}s")
        return fault

    def _idempotent(self, op: str, key: str, fingerprint: str, run: Callable[[], T]) -> T:
        if key in self._idempotency:
            stored_fingerprint, outcome = self._idempotency[key]
            if stored_fingerprint != fingerprint:
                raise IdempotencyConflict(
                    f"idempotency_key: {key!r} was already used with other parameters"
                )
            if isinstance(outcome, PaymentError):
                raise outcome
            return outcome  # type: ignore[return-value]  # stored by this same fingerprint
        try:
            result = run()
        except (IdempotencyConflict, ProviderError):
            raise
        except PaymentError as exc:
            self._idempotency[key] = (fingerprint, exc)
            self.executed.append((op, key))
            raise
        self._idempotency[key] = (fingerprint, result)
        self.executed.append((op, key))
        return result

    def _hold(self, authorization_id: str) -> _Hold:
        hold = self._holds.get(authorization_id)
        if hold is None:
            raise AuthorizationNotFound(f"authorization_id: {authorization_id!r} is unknown")
        self._expire_if_due(hold)
        return hold

    def _capturable(self, authorization_id: str, op: str) -> _Hold:
        hold = self._hold(authorization_id)
        if hold.state is AuthorizationState.EXPIRED:
            raise AuthorizationExpired(f"authorization_id: {authorization_id!r} has expired")
        if hold.state is not AuthorizationState.AUTHORIZED:
            raise InvalidPaymentRequest(
                f"authorization_id: {authorization_id!r} is {hold.state.value}, cannot {op}"
            )
        return hold

    def _expire_if_due(self, hold: _Hold) -> bool:
        pending = {AuthorizationState.AUTHORIZED, AuthorizationState.REQUIRES_ACTION}
        if hold.state not in pending or hold.expires_at is None:
            return False
        if self._clock() < hold.expires_at:
            return False
        hold.state = AuthorizationState.EXPIRED
        self.webhooks.emit(WebhookEventType.AUTHORIZATION_EXPIRED, authorization_id=hold.id,
                           amount=hold.amount)
        return True

    def _view(self, hold: _Hold) -> Authorization:
        status = {
            AuthorizationState.REQUIRES_ACTION: AuthorizationStatus.REQUIRES_ACTION,
            AuthorizationState.DECLINED: AuthorizationStatus.DECLINED,
        }.get(hold.state, AuthorizationStatus.AUTHORIZED)
        return Authorization(
            id=hold.id, status=status, amount=hold.amount, decline_code=hold.decline_code,
            challenge_ref=hold.challenge_ref if status is AuthorizationStatus.REQUIRES_ACTION
            else None,
            challenge_url=(f"https://sandbox.evbill.invalid/3ds/{hold.challenge_ref}"
                           if status is AuthorizationStatus.REQUIRES_ACTION else None),
            expires_at=hold.expires_at, incremental_supported=status is
            AuthorizationStatus.AUTHORIZED, state=hold.state, captured=hold.captured,
        )

    def _next_id(self, prefix: str) -> str:
        self._seq += 1
        return f"{prefix}_sbx_{self._ns}_{self._seq:06d}"


def _money_param(amount: Money) -> str:
    return f"{to_minor_units(amount)} {amount.currency}"


def _positive(amount: Money, field_name: str) -> None:
    if amount.amount <= 0:
        raise InvalidPaymentRequest(f"{field_name}: must be positive, got {amount}")
