"""Ad hoc card, wallet-pay and contactless sessions: hold before energy flows, raise the hold as
the cost nears it, capture the priced amount, release the rest; voids and the stale-hold sweep.

Order inside each step: provider call (idempotency key derived from the session reference),
then the ledger posting (idempotency key derived from the provider's id), then the payment
rows in one commit. A crash anywhere is repaired by calling the same step again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from evbill.ledger import postings
from evbill.money import Money
from evbill.payments.context import PaymentContext, log
from evbill.payments.dunning import Dunning
from evbill.payments.model import (
    HoldOutcome,
    HoldResult,
    PaymentStateError,
    RunningCostDecision,
    SessionCharge,
    increment_target,
)
from evbill.payments.provider import (
    Authorization,
    AuthorizationState,
    AuthorizationStatus,
    DeclineCode,
    PaymentDeclined,
)
from evbill.payments.tables import PaymentAuthorizationRow

__all__ = ["CardPayments"]

_OPEN = ("requires_action", "authorized")


class CardPayments:
    def __init__(self, ctx: PaymentContext, dunning: Dunning) -> None:
        self.ctx = ctx
        self.dunning = dunning

    # --- hold ------------------------------------------------------------------------------
    def authorize_hold(
        self, *, reference: str, account: str, payment_method_token: str,
        station_id: str | None = None,
    ) -> HoldResult:
        """Place the station's pre-authorization hold; a repeat returns the first answer."""
        with self.ctx.read() as r:
            existing = r.scalar(select(PaymentAuthorizationRow)
                                .where(PaymentAuthorizationRow.reference == reference))
        if existing is not None:
            return _result(existing)
        amount = self.ctx.settings.hold_for(station_id)
        auth = self.ctx.provider.authorize(
            amount, payment_method_token, f"{reference}:hold",
            {"reference": reference, "station_id": station_id or ""},
        )
        if auth.status is AuthorizationStatus.AUTHORIZED:
            self._post_hold(reference, auth.id, auth.amount)
        now = self.ctx.clock()
        row = PaymentAuthorizationRow(
            id=self.ctx.ids("hold"), reference=reference, purpose="session",
            provider=self.ctx.provider.name, provider_ref=auth.id, account=account,
            station_id=station_id, payment_method_token=payment_method_token,
            currency=amount.currency, amount_held=auth.amount.amount, status=auth.status.value,
            decline_code=auth.decline_code.value if auth.decline_code else None,
            challenge_ref=auth.challenge_ref, challenge_url=auth.challenge_url, increments=0,
            limit_reached=False, expires_at=auth.expires_at, created_at=now, updated_at=now,
        )
        try:
            with self.ctx.session() as s:
                s.add(row)
                s.commit()
        except IntegrityError:  # a concurrent call for the same reference won the insert
            return _result(self.ctx.load_hold(reference))
        log.info("payments.hold reference=%s authorization=%s outcome=%s amount=%s",
                 reference, auth.id, auth.status.value, amount)
        return _result(row)

    def refresh_hold(self, reference: str) -> HoldResult:
        """Ask the provider where a pending (3-D Secure) hold stands and record it."""
        row = self.ctx.load_hold(reference)
        if row.status == "requires_action":
            self.apply_provider_state(row, self.ctx.provider.retrieve(row.provider_ref))
        return _result(row)

    def apply_provider_state(self, row: PaymentAuthorizationRow, auth: Authorization) -> str:
        """Record a challenge's end (from `retrieve` or a webhook); posts the hold if it held."""
        state = auth.state
        if row.status != "requires_action" or state is AuthorizationState.REQUIRES_ACTION:
            return f"unchanged ({row.status})"
        if state is AuthorizationState.AUTHORIZED:
            self._post_hold(row.reference, row.provider_ref, auth.amount)
            row.status, row.expires_at = "authorized", auth.expires_at
        else:
            row.status = "declined" if state is AuthorizationState.DECLINED else "expired"
            row.decline_code = (auth.decline_code or DeclineCode.AUTHENTICATION_FAILED).value
        row.challenge_ref, row.updated_at = None, self.ctx.clock()
        self.ctx.save(row, ("challenge", row.reference, "provider", {"outcome": row.status}))
        return row.status

    # --- while charging --------------------------------------------------------------------
    def on_running_cost(self, reference: str, running_cost: Money) -> RunningCostDecision:
        """Raise the hold when the cost nears it; STOP when it cannot be raised any more."""
        row = self.ctx.load_hold(reference)
        if row.status != "authorized":
            raise PaymentStateError(f"reference: hold {reference!r} is {row.status}")
        held = Money(row.amount_held, row.currency)
        settings = self.ctx.settings
        target = None if row.limit_reached else increment_target(held, running_cost, settings)
        if target is None:
            at_limit = running_cost >= held * settings.increment_at
            if at_limit and (row.limit_reached or held >= settings.max_hold):
                return RunningCostDecision.STOP
            return RunningCostDecision.CONTINUE
        number = row.increments + 1
        try:
            auth = self.ctx.provider.increment(
                row.provider_ref, target, f"{reference}:increment:{number}")
        except PaymentDeclined as exc:
            row.limit_reached, row.updated_at = True, self.ctx.clock()
            self.ctx.save(row, ("increment_declined", reference, "system",
                                {"code": exc.code.value, "held": held, "wanted": target}))
            return RunningCostDecision.STOP
        self.ctx.post(f"payments:hold:{row.provider_ref}:{number}", reference,
                      lambda m: postings.hold(m, row.provider, auth.amount - held))
        row.amount_held, row.increments, row.updated_at = (
            auth.amount.amount, number, self.ctx.clock())
        self.ctx.save(row, ("increment", reference, "system", {"held": held, "now": auth.amount}))
        return RunningCostDecision.INCREMENTED

    # --- the end of a session --------------------------------------------------------------
    def capture(self, reference: str, charge: SessionCharge) -> str:
        """Capture the priced amount (a zero price voids the hold). Returns the status:
        `captured`, `released` or `dunning`."""
        row = self.ctx.load_hold(reference)
        if row.status in {"captured", "released"}:
            return row.status
        if row.status == "capture_failed":
            return "dunning"
        if row.status != "authorized":
            raise PaymentStateError(f"reference: hold {reference!r} is {row.status}")
        if charge.gross.is_zero():
            self.release(row, "system", "zero-cost session", void=True)
            return "released"
        return self.dunning.capture_or_queue(row, charge)

    def void(self, reference: str, *, actor: str, reason: str) -> None:
        """Release an uncaptured hold at the driver's or operator's request."""
        row = self.ctx.load_hold(reference)
        if row.status not in _OPEN:
            raise PaymentStateError(
                f"reference: hold {reference!r} is {row.status}, nothing to void")
        self.release(row, actor, reason, void=True)

    def sweep(self, now: datetime | None = None) -> list[str]:
        """Release holds never captured: expired at the provider or older than allowed."""
        now = now or self.ctx.clock()
        stale_before = now - self.ctx.settings.stale_hold_after
        with self.ctx.read() as r:
            rows = r.scalars(select(PaymentAuthorizationRow).where(
                PaymentAuthorizationRow.purpose == "session",
                PaymentAuthorizationRow.status.in_(_OPEN),
                or_(PaymentAuthorizationRow.expires_at <= now,
                    PaymentAuthorizationRow.created_at <= stale_before),
            ).order_by(PaymentAuthorizationRow.created_at)).all()
        for row in rows:
            expired = row.expires_at is not None and row.expires_at <= now
            self.release(row, "sweep", "hold expired" if expired else "stale hold",
                         void=not expired)
        return [row.reference for row in rows]

    # --- helpers ---------------------------------------------------------------------------
    def _post_hold(self, reference: str, provider_ref: str, amount: Money) -> None:
        self.ctx.post(f"payments:hold:{provider_ref}", reference,
                      lambda m: postings.hold(m, self.ctx.provider.name, amount))

    def release(self, row: PaymentAuthorizationRow, actor: str, reason: str,
                *, void: bool, status: str | None = None) -> None:
        """Void at the provider (unless it already ended there) and release the hold."""
        if void:
            self.ctx.provider.void(row.provider_ref, f"{row.reference}:void")
        held = Money(row.amount_held, row.currency)
        if row.status == "authorized":
            self.ctx.post(f"payments:release:{row.provider_ref}", row.reference,
                          lambda m: postings.release_hold(m, row.provider, held))
        row.status = status or ("released" if void else "expired")
        row.updated_at = self.ctx.clock()
        self.ctx.save(row, ("void" if void else "expire", row.reference, actor,
                            {"reason": reason, "amount": held}))


def _result(row: PaymentAuthorizationRow) -> HoldResult:
    outcome = {"requires_action": HoldOutcome.REQUIRES_ACTION,
               "declined": HoldOutcome.DECLINED}.get(row.status, HoldOutcome.AUTHORIZED)
    return HoldResult(
        authorization_id=row.id, outcome=outcome, amount=Money(row.amount_held, row.currency),
        decline_code=DeclineCode(row.decline_code) if row.decline_code else None,
        challenge_ref=row.challenge_ref, challenge_url=row.challenge_url,
        expires_at=row.expires_at,
    )
