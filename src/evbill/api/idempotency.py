"""`Idempotency-Key` as payment APIs define it: a key names one request; sending it again with
the same parameters repeats the answer (the service below is idempotent on the key), with
different parameters it is refused (409, naming the key) instead of quietly returning the
first request's result."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from sqlalchemy.exc import IntegrityError

from evbill.api.context import ApiContext
from evbill.api.problems import Conflict, short
from evbill.api.security_tables import IdempotencyKeyRow

__all__ = ["claim_key", "fingerprint"]


def fingerprint(params: Mapping[str, object]) -> str:
    """A digest of the request's parameters (canonical JSON, values as text)."""
    canonical = json.dumps({k: None if v is None else str(v) for k, v in params.items()},
                           sort_keys=True, separators=(",", ":"))  # fmt: skip
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def claim_key(ctx: ApiContext, scope: str, key: str, params: Mapping[str, object]) -> None:
    """Remember `key` for these parameters within `scope` (an endpoint and its caller), or
    raise `Conflict` when it was first used for different ones."""
    digest = fingerprint(params)
    try:
        with ctx.db.sessions() as s, s.begin():
            known = s.get(IdempotencyKeyRow, (scope, key))
            if known is None:
                s.add(IdempotencyKeyRow(scope=scope, key=key, fingerprint=digest,
                                        created_at=ctx.clock()))
                return
    except IntegrityError:  # the same key arrived twice at once: compare with the winner
        pass
    with ctx.db.read_sessions() as s:
        known = s.get(IdempotencyKeyRow, (scope, key))
        first = None if known is None else known.fingerprint
    if first != digest:
        raise Conflict(
            f"Idempotency-Key: {short(key, 64)!r} was already used for a request with different "
            "parameters; send a new key for a new request",
            extra={"idempotency_key": short(key, 64)},
        )
