"""Which payment provider to use, from `EVBILL_PAYMENT_*` / `EVBILL_STRIPE_*` variables, and
the factory that builds it wrapped in the retry policy. Secrets never appear in a repr.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from evbill.payments.provider import PaymentError, PaymentProvider
from evbill.payments.retry import RetryingProvider, RetryPolicy

__all__ = ["PaymentProviderSettings", "ProviderNotConfigured", "build_provider"]


class ProviderNotConfigured(PaymentError):
    """The chosen provider lacks a required setting."""


class PaymentProviderSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EVBILL_", extra="ignore")

    payment_provider: Literal["sandbox", "stripe"] = "sandbox"
    payment_max_attempts: int = Field(default=4, ge=1, le=10)
    sandbox_webhook_secret: SecretStr | None = None  # None: random, known to this process
    stripe_secret_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None


def build_provider(
    settings: PaymentProviderSettings | None = None,
    *,
    clock: Callable[[], datetime] | None = None,
) -> PaymentProvider:
    """The configured provider behind a `RetryingProvider`."""
    settings = settings or PaymentProviderSettings()
    inner: PaymentProvider
    if settings.payment_provider == "stripe":
        if settings.stripe_secret_key is None or settings.stripe_webhook_secret is None:
            raise ProviderNotConfigured(
                "EVBILL_STRIPE_SECRET_KEY and EVBILL_STRIPE_WEBHOOK_SECRET: both are required "
                "when EVBILL_PAYMENT_PROVIDER=stripe")
        from evbill.payments.providers.stripe import StripeProvider

        key = settings.stripe_secret_key.get_secret_value()
        webhook_secret = settings.stripe_webhook_secret.get_secret_value()
        inner = (StripeProvider.from_api_key(key, webhook_secret=webhook_secret, clock=clock)
                 if clock else StripeProvider.from_api_key(key, webhook_secret=webhook_secret))
    else:
        from evbill.payments.providers.sandbox import SandboxProvider

        chosen = settings.sandbox_webhook_secret
        secret = None if chosen is None else chosen.get_secret_value()
        inner = (SandboxProvider(webhook_secret=secret, clock=clock) if clock
                 else SandboxProvider(webhook_secret=secret))
    return RetryingProvider(inner, RetryPolicy(max_attempts=settings.payment_max_attempts))
