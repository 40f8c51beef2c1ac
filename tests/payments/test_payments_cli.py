"""`evbill payments …`: the operator sees the dunning queue and a session's trail; provider
configuration from the environment."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from evbill.cli import app
from evbill.ledger.postings import VatLine
from evbill.money import Money
from evbill.payments.config import (
    PaymentProviderSettings,
    ProviderNotConfigured,
    build_provider,
)
from evbill.payments.model import SessionCharge
from evbill.payments.providers import sandbox_vault as cards
from evbill.payments.providers.sandbox_faults import FaultKind
from evbill.payments.providers.stripe import StripeProvider
from evbill.payments.retry import RetryingProvider

from .conftest import Flows


def test_dunning_queue_and_trail_from_the_command_line(flows: Flows, database_url: str) -> None:
    svc = flows.service
    svc.authorize_hold(reference="sess-1", account="drv-1",
                       payment_method_token=cards.WALLET_APPLE_PAY)
    flows.sandbox.faults.fail_next(3, FaultKind.UNAVAILABLE, operations={"capture"})
    eur = "EUR"
    svc.capture(SessionCharge("sess-1", "op-1", Money.of("10.00", eur),
                              (VatLine("DE", "19", Money.of("1.90", eur)),)))
    runner = CliRunner()
    listed = runner.invoke(app, ["payments", "dunning", "--json", "--database", database_url])
    assert listed.exit_code == 0, listed.output
    [item] = json.loads(listed.stdout)
    assert item["reference"] == "sess-1" and item["amount"] == {"amount": "11.90",
                                                                "currency": "EUR"}
    assert item["attempts"] == 1 and "ProviderUnavailable" in item["last_error"]
    trail = runner.invoke(app, ["payments", "trail", "sess-1", "--database", database_url])
    assert trail.exit_code == 0, trail.output
    assert [t["action"] for t in json.loads(trail.stdout)] == ["dunning_opened"]
    unknown = runner.invoke(app, ["payments", "retry", "dun_nope", "--database", database_url])
    assert unknown.exit_code == 1 and "dun_nope" in unknown.output


def test_provider_factory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVBILL_PAYMENT_PROVIDER", raising=False)
    sandbox = build_provider(PaymentProviderSettings())
    assert isinstance(sandbox, RetryingProvider) and sandbox.name == "sandbox"
    monkeypatch.setenv("EVBILL_PAYMENT_PROVIDER", "stripe")
    with pytest.raises(ProviderNotConfigured, match="EVBILL_STRIPE_SECRET_KEY"):
        build_provider(PaymentProviderSettings())
    monkeypatch.setenv("EVBILL_STRIPE_SECRET_KEY", "sk_test_abc")
    monkeypatch.setenv("EVBILL_STRIPE_WEBHOOK_SECRET", "whsec_abc")
    settings = PaymentProviderSettings()
    assert "sk_test_abc" not in repr(settings)
    stripe_provider = build_provider(settings)
    assert isinstance(stripe_provider, RetryingProvider)
    assert isinstance(stripe_provider.inner, StripeProvider)
