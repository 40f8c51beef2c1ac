"""Who may charge: the id token policy, as a pure decision over a token's stored record.

Policy per token type (OCPP 2.0.1 IdTokenEnumType; 1.6 idTags arrive as ISO14443):
- `NoAuthorization`: the station charges without asking (free vending, private box). Accepted
  when `Settings.accept_no_authorization` (default), Invalid otherwise; the session has no payer.
- `Central`: a token the CSMS itself issued for a remote start; Accepted unless an operator
  registered it with another status.
- `MacAddress` (Autocharge) and `eMAID` (Plug & Charge contract id): looked up like RFID cards,
  after normalisation (hex upper case without separators; eMAID without dashes). The vehicle
  or contract must be registered to an account; an unregistered one is Unknown.
- `ISO14443`, `ISO15693`, `KeyCode`, `Local`: looked up by value and type; an ISO14443 token
  that is not found is also looked up by value alone (1.6 stations send no type).
Registered tokens answer their status: Blocked, Invalid, Expired (past `expires_at` at the
time of the request), else Accepted with the group id. Anything unknown is Unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from evbill.sessions.commands import AuthorizationResult, AuthorizationStatus, IdToken, IdTokenType

__all__ = ["TokenRecord", "decide"]


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """What the store knows about a token."""

    status: str  # Accepted | Blocked | Invalid
    group_id: str | None = None
    expires_at: datetime | None = None


def decide(
    token: IdToken | None,
    record: TokenRecord | None,
    at: datetime,
    *,
    accept_no_authorization: bool,
) -> AuthorizationResult:
    """The authorization answer for `token` at `at` given its stored record (None: unknown)."""
    if token is None or token.type is IdTokenType.NO_AUTHORIZATION:
        if accept_no_authorization:
            return AuthorizationResult(AuthorizationStatus.ACCEPTED, reason="no authorization")
        return AuthorizationResult(
            AuthorizationStatus.INVALID, reason="charging without authorization is not allowed"
        )
    if record is None:
        if token.type is IdTokenType.CENTRAL:
            return AuthorizationResult(AuthorizationStatus.ACCEPTED, reason="central token")
        return AuthorizationResult(AuthorizationStatus.UNKNOWN, reason="token not registered")
    if record.status == AuthorizationStatus.BLOCKED:
        return AuthorizationResult(AuthorizationStatus.BLOCKED, record.group_id,
                                   reason="token blocked")  # fmt: skip
    if record.status != AuthorizationStatus.ACCEPTED:
        return AuthorizationResult(AuthorizationStatus.INVALID, record.group_id,
                                   reason="token invalid")  # fmt: skip
    if record.expires_at is not None and record.expires_at <= at:
        return AuthorizationResult(
            AuthorizationStatus.EXPIRED, record.group_id, record.expires_at, reason="token expired"
        )
    return AuthorizationResult(AuthorizationStatus.ACCEPTED, record.group_id, record.expires_at)
