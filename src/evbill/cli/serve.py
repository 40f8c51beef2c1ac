"""`evbill serve`: run the OCPP gateway on the configured database until SIGINT/SIGTERM."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated

import typer

from evbill.cli.app import app, console, fail

if TYPE_CHECKING:
    import asyncio

    from evbill.api.settings import ApiSettings
    from evbill.config import Settings
    from evbill.ocpp.server import Gateway
    from evbill.payments.provider import PaymentProvider
    from evbill.payments.providers.sandbox import SandboxProvider
    from evbill.payments.session_billing import SessionBilling
    from evbill.sessions.service import SessionService
    from evbill.store.database import Database

log = logging.getLogger("evbill.serve")

#: How often the payment sweep runs (unclaimed and stale holds, sessions left unsettled).
SWEEP_INTERVAL_S = 60.0


def wire_billing(db: Database, provider: PaymentProvider | None) -> SessionBilling:
    """The session billing hooks on `provider` (or the configured one), with receipts and
    credit notes issued the moment a payment or refund is booked."""
    from evbill.clock import utc_now
    from evbill.invoicing.auto import DocumentIssuer
    from evbill.invoicing.service import InvoicingService
    from evbill.ledger.service import LedgerService
    from evbill.ledger.store import sql_unit_of_work
    from evbill.payments.config import build_provider
    from evbill.payments.service import PaymentService
    from evbill.payments.session_billing import SessionBilling

    issuer = DocumentIssuer(InvoicingService(db), utc_now)
    payments = PaymentService(db, provider or build_provider(),
                              LedgerService(sql_unit_of_work(db)), listeners=[issuer])
    return SessionBilling(db, payments)


async def _serve(settings: Settings, service: SessionService, db: Database,
                 billing: SessionBilling, sandbox: SandboxProvider | None,
                 with_api: bool) -> None:
    import asyncio
    import signal
    from datetime import timedelta

    from evbill.clock import utc_now
    from evbill.ocpp.server import run_gateway
    from evbill.payments.wiring import run_sweeper
    from evbill.sessions.retention import run_dedup_pruner
    from evbill.sessions.silence import run_silence_watch

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    def started(gateway: Gateway) -> None:
        console.print(f"evbill: OCPP gateway on {gateway.url('{station_id}')}", highlight=False)

    parts = [run_gateway(settings, service, db=db, stop=stop, on_started=started),
             run_sweeper(billing, SWEEP_INTERVAL_S, stop),
             run_dedup_pruner(db, timedelta(days=settings.dedup_retention_days), stop,
                              utc_now),
             run_silence_watch(db, timedelta(seconds=settings.session_silence), stop, utc_now)]
    if with_api:
        parts.append(_serve_api(settings, db, sandbox, stop))
    await asyncio.gather(*parts)


async def _serve_api(settings: Settings, db: Database, sandbox: SandboxProvider | None,
                     stop: asyncio.Event) -> None:
    """The API and portal beside the gateway, on the gateway's sandbox when it uses one: the
    sandbox keeps holds in memory, so a hold the API's ad hoc page places must be the one the
    gateway's payment hooks raise and capture."""
    from evbill.api.app import create_app
    from evbill.api.server import serve_api

    api = create_app(settings, db=db, provider=sandbox)
    await serve_api(api, settings.api_host, settings.api_port, stop)


def installation_secrets(settings: Settings) -> ApiSettings:
    """The API's secrets (generated once per installation when unset); refuses to go on with
    a publicly known value, so nobody can sign a webhook with a secret from the docs."""
    from evbill.api.settings import (
        ApiSettings,
        PublicSecret,
        refuse_public_secrets,
        resolve_secrets,
    )
    from evbill.payments.config import PaymentProviderSettings

    api = resolve_secrets(ApiSettings(), settings.data_dir)
    chosen = PaymentProviderSettings()
    try:
        refuse_public_secrets({
            "EVBILL_API_SECRET_KEY": api.secret_key,
            "EVBILL_API_SANDBOX_WEBHOOK_SECRET": api.sandbox_webhook_secret,
            "EVBILL_SANDBOX_WEBHOOK_SECRET": chosen.sandbox_webhook_secret,
            "EVBILL_STRIPE_WEBHOOK_SECRET": chosen.stripe_webhook_secret,
        })  # fmt: skip
    except PublicSecret as exc:
        raise fail(f"refusing to start: {exc}") from None
    return api


def _shared_sandbox(api: ApiSettings) -> SandboxProvider | None:
    """One sandbox for the gateway and the API (None when another provider is configured)."""
    from evbill.payments.config import PaymentProviderSettings
    from evbill.payments.providers.sandbox import SandboxProvider

    if PaymentProviderSettings().payment_provider != "sandbox":
        return None
    assert api.sandbox_webhook_secret is not None  # resolved
    return SandboxProvider(webhook_secret=api.sandbox_webhook_secret.get_secret_value())


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="interface (default EVBILL_OCPP_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default EVBILL_OCPP_PORT)")] = None,
    api: Annotated[bool, typer.Option(
        help="also serve the API and portal (EVBILL_API_PORT) in this process; --no-api when "
             "`evbill api` serves them")] = True,
) -> None:
    """Run the OCPP gateway (1.6J, 2.0.1, 2.1) on the embedded SQLite or EVBILL_DATABASE_URL.

    Stations authenticate with HTTP Basic (security profile 1, EVBILL_OCPP_SECURITY_PROFILE);
    profile 0 (no authentication) is for lab use only and is warned about at start."""
    import asyncio

    from evbill.config import get_settings
    from evbill.invoicing.model import DocumentError
    from evbill.invoicing.settings import IssuerNotConfigured, check_issuer, get_invoicing_settings
    from evbill.payments.config import PaymentProviderSettings
    from evbill.payments.retry import RetryingProvider, RetryPolicy
    from evbill.sessions.service import SessionService
    from evbill.store.database import Database
    from evbill.store.migrate import ensure_schema

    try:  # documents are issued from here on: never with the placeholder issuer
        check_issuer(get_invoicing_settings())
    except (IssuerNotConfigured, DocumentError) as exc:
        raise fail(str(exc)) from None
    settings = get_settings()
    overrides = {"ocpp_host": host, "ocpp_port": port}
    settings = settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    if settings.ocpp_security_profile == 0:
        warning = ("EVBILL_OCPP_SECURITY_PROFILE=0: stations connect WITHOUT authentication — "
                   "anyone who reaches the port can act as any station; for lab use only")
        log.warning("serve.security_profile_0 %s", warning)
        console.print(f"[bold yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
    api_secrets = installation_secrets(settings)
    url = settings.resolved_database_url
    ensure_schema(url)
    db = Database.open(url, echo=settings.database_echo)
    log.info("serve.database url=%s", settings.redacted()["database_url"])
    try:
        sandbox = _shared_sandbox(api_secrets)
        retrying = None if sandbox is None else RetryingProvider(
            sandbox, RetryPolicy(max_attempts=PaymentProviderSettings().payment_max_attempts))
        billing = wire_billing(db, retrying)  # payments wired into the session lifecycle
        service = SessionService(db, settings, hooks=billing)
        asyncio.run(_serve(settings, service, db, billing, sandbox, api))
    finally:
        db.dispose()
    log.info("serve.stopped")
