"""The stored form of first answers (processed_commands.answer): results ↔ plain JSON dicts."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from evbill.sessions.commands import (
    AuthorizationResult,
    AuthorizationStatus,
    StartResult,
    StopResult,
    TransactionEventRecorded,
)

__all__ = [
    "decode_event",
    "decode_start",
    "decode_stop",
    "encode_event",
    "encode_start",
    "encode_stop",
]


def _auth(result: AuthorizationResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    expires = result.expires_at.isoformat() if result.expires_at else None
    return {"status": result.status.value, "group_id": result.group_id,
            "expires_at": expires, "reason": result.reason}  # fmt: skip


def _unauth(data: dict[str, Any] | None) -> AuthorizationResult | None:
    if data is None:
        return None
    expires = data.get("expires_at")
    return AuthorizationResult(
        AuthorizationStatus(data["status"]), data.get("group_id"),
        datetime.fromisoformat(expires) if expires else None, data.get("reason"),
    )  # fmt: skip


def encode_start(result: StartResult) -> dict[str, Any]:
    return {"transaction_id": result.transaction_id, "authorization": _auth(result.authorization)}


def decode_start(data: dict[str, Any]) -> StartResult:
    auth = _unauth(data["authorization"])
    assert auth is not None
    return StartResult(data["transaction_id"], auth)


def encode_stop(result: StopResult) -> dict[str, Any]:
    return {"transaction_id": result.transaction_id, "authorization": _auth(result.authorization)}


def decode_stop(data: dict[str, Any]) -> StopResult:
    return StopResult(data["transaction_id"], _unauth(data.get("authorization")))


def encode_event(result: TransactionEventRecorded) -> dict[str, Any]:
    cost = None if result.total_cost is None else format(result.total_cost, "f")
    return {"transaction_id": result.transaction_id, "authorization": _auth(result.authorization),
            "total_cost": cost, "currency": result.currency}  # fmt: skip


def decode_event(data: dict[str, Any]) -> TransactionEventRecorded:
    cost = data.get("total_cost")
    return TransactionEventRecorded(
        data["transaction_id"], _unauth(data.get("authorization")),
        None if cost is None else Decimal(cost), data.get("currency"),
    )  # fmt: skip
