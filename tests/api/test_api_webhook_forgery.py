"""Issue 11 F3, performed as the attacker did: a `settlement.paid` forged with the old public
sandbox secret booked 1,000,000.00 EUR. Now the secret is generated per installation (the
public value is refused at start-up), and even a correctly signed payout books only the
amount the provider's own record holds."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from api_world import World
from fastapi.testclient import TestClient

from evbill.api.context import ApiContext
from evbill.api.settings import ApiSettings, resolve_secrets
from evbill.ledger import accounts
from evbill.money import Money
from evbill.payments.provider import WebhookEventType
from evbill.payments.providers.sandbox import SandboxProvider
from evbill.payments.webhooks import sign

OLD_PUBLIC_SECRET = "whsec_sandbox"
WEBHOOK = "/api/v1/webhooks/payments"


def _bank(ctx: ApiContext) -> Decimal:
    lines = ctx.ledger.trial_balance().lines
    return sum((ln.balance for ln in lines if ln.account == accounts.bank()), Decimal(0))


def _forged(ctx: ApiContext, secret: str, amount_minor: int, payout: str) -> tuple[dict[str, str],
                                                                                    bytes]:
    created = int(ctx.clock().timestamp())
    payload = {"id": f"evt_forged_{amount_minor}_{payout}", "object": "event",
               "type": "settlement.paid", "created": created,
               "data": {"object": {"id": payout, "payout": payout, "amount": amount_minor,
                                   "currency": "eur"}}}
    body = json.dumps(payload).encode()
    return {"Sandbox-Signature": sign(body, secret, created),
            "Content-Type": "application/json"}, body


def test_forged_payout_with_the_old_public_secret_is_refused(
    client: TestClient, world: World, ctx: ApiContext
) -> None:
    before = _bank(ctx)
    headers, body = _forged(ctx, OLD_PUBLIC_SECRET, 100_000_000, "po_forged")
    answer = client.post(WEBHOOK, content=body, headers=headers)
    assert answer.status_code == 400 and "signature" in answer.json()["detail"]
    assert _bank(ctx) == before


def test_signed_payout_books_only_what_the_sandbox_paid(
    client: TestClient, world: World, ctx: ApiContext
) -> None:
    sandbox = ctx.provider
    assert isinstance(sandbox, SandboxProvider)
    before = _bank(ctx)
    [genuine] = sandbox.settle()
    assert genuine.amount is not None and genuine.data["payout"]
    paid = genuine.amount
    delivered = sandbox.outbox[-1]
    # Correctly signed (the installation's own secret), but a different amount for the payout.
    inflated = sandbox.webhooks.emit(WebhookEventType.SETTLEMENT_PAID,
                                     amount=Money.of("1000000.00", "EUR"),
                                     data={"payout": genuine.data["payout"]})
    lying = sandbox.outbox[-1]
    answer = client.post(WEBHOOK, content=lying.body, headers=lying.headers)
    assert answer.status_code == 200 and answer.json()["outcome"].startswith("not booked")
    assert inflated.id == answer.json()["received"]
    unknown = sandbox.webhooks.emit(WebhookEventType.SETTLEMENT_PAID, amount=paid,
                                    data={"payout": "po_nobody_paid"})
    answer = client.post(WEBHOOK, content=sandbox.outbox[-1].body,
                         headers=sandbox.outbox[-1].headers)
    assert answer.json()["outcome"].startswith("not booked") and unknown.amount == paid
    assert _bank(ctx) == before
    booked = client.post(WEBHOOK, content=delivered.body, headers=delivered.headers)
    assert booked.status_code == 200 and booked.json()["outcome"].startswith("payout of")
    assert _bank(ctx) == before + paid.amount


def test_secrets_are_generated_per_installation_and_private(tmp_path: Path) -> None:
    first = resolve_secrets(ApiSettings(), tmp_path / "one")
    second = resolve_secrets(ApiSettings(), tmp_path / "two")
    assert first.sandbox_webhook_secret is not None and second.sandbox_webhook_secret is not None
    mine, theirs = (s.sandbox_webhook_secret.get_secret_value() for s in (first, second))
    assert mine != theirs and OLD_PUBLIC_SECRET not in (mine, theirs) and len(mine) >= 32
    assert resolve_secrets(ApiSettings(), tmp_path / "one") == first  # stable once created
    mode = stat.S_IMODE(os.stat(tmp_path / "one" / "api-secrets.json").st_mode)
    assert mode == 0o600
    # An installation from before this change: the missing secret is added, the rest kept.
    old = tmp_path / "old"
    old.mkdir()
    (old / "api-secrets.json").write_text(json.dumps(
        {"secret_key": "k" * 40, "field_key": "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIzNDU="}))
    upgraded = resolve_secrets(ApiSettings(), old)
    assert upgraded.secret_key is not None and upgraded.secret_key.get_secret_value() == "k" * 40
    assert upgraded.sandbox_webhook_secret is not None


def test_api_apart_refuses_to_start_with_a_public_secret(tmp_path: Path) -> None:
    """`evbill api` (the API in its own workers, with a real processor) refuses a published
    webhook secret as `evbill serve` does, before it creates or serves anything."""
    env = {**os.environ, "EVBILL_DATA_DIR": str(tmp_path), "EVBILL_PAYMENT_PROVIDER": "stripe",
           "EVBILL_STRIPE_WEBHOOK_SECRET": OLD_PUBLIC_SECRET, "EVBILL_API_PORT": "0"}
    done = subprocess.run([sys.executable, "-m", "evbill", "api"], env=env, timeout=60,
                          capture_output=True, text=True, check=False)
    assert done.returncode != 0, done.stdout
    assert "EVBILL_STRIPE_WEBHOOK_SECRET" in done.stdout + done.stderr
    assert "refusing to start" in done.stdout + done.stderr
    assert not (tmp_path / "evbill.sqlite3").exists()


def test_serve_refuses_to_start_with_the_public_secret(tmp_path: Path) -> None:
    env = {**os.environ, "EVBILL_DATA_DIR": str(tmp_path),
           "EVBILL_API_SANDBOX_WEBHOOK_SECRET": OLD_PUBLIC_SECRET,
           "EVBILL_OCPP_PORT": "0", "EVBILL_API_PORT": "0"}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "evbill", "serve"], env=env, timeout=60,
                          capture_output=True, text=True, check=False)
    assert done.returncode != 0, done.stdout
    assert "EVBILL_API_SANDBOX_WEBHOOK_SECRET" in done.stdout + done.stderr
    assert "refusing to start" in done.stdout + done.stderr
    assert time.monotonic() - started < 60
    assert not (tmp_path / "evbill.sqlite3").exists()  # nothing was started or created
