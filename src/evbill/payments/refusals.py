"""What the payment domain refuses, in words a caller can act on (the field, then the reason).

The HTTP layer maps each kind to its status (`evbill.api.problems`): invalid → 400, payment
refused → 402, not found → 404, conflict → 409. The domain itself knows nothing of HTTP.
"""

from __future__ import annotations

__all__ = ["Invalid", "NotFoundHere", "PaymentRefused", "Refusal", "StateConflict"]


class Refusal(Exception):
    """A request the payment domain will not carry out; `detail` names field and reason."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Invalid(Refusal):
    """The request itself is wrong (an amount out of range, an unknown token)."""


class PaymentRefused(Refusal):
    """Money cannot move: a decline, a wallet below the minimum."""


class NotFoundHere(Refusal):
    """No such thing for this caller (another customer's is not found either)."""


class StateConflict(Refusal):
    """The thing exists but its state does not allow the request."""
