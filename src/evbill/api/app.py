"""`create_app`: the FastAPI application serving the REST API, the portal and the EVSE pages.

`evbill serve` mounts it beside the OCPP gateway; tests build it on a migrated database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

import anyio.to_thread
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

import evbill.accounts.tables
import evbill.api.tables
import evbill.invoicing.tables
import evbill.payments.tables  # noqa: F401
from evbill import __version__
from evbill.api.context import ApiContext, CardProvider, utc_now
from evbill.api.limits import BodyLimit
from evbill.api.problems import document_problems, install_problem_handlers
from evbill.api.routers import (
    account,
    auth,
    documents,
    driver,
    operator,
    payments,
    profile,
    public,
    staff,
    tariffs,
)
from evbill.api.settings import ApiSettings, resolve_secrets
from evbill.config import Settings
from evbill.invoicing.settings import InvoicingSettings
from evbill.payments.config import PaymentProviderSettings, ProviderNotConfigured
from evbill.payments.model import PaymentSettings
from evbill.payments.providers.sandbox import SandboxProvider
from evbill.payments.settlement_pass import run_settler
from evbill.store.database import Database

__all__ = ["api_routes", "configured_provider", "create_app", "mount"]

log = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    *,
    api_settings: ApiSettings | None = None,
    db: Database | None = None,
    provider: CardProvider | None = None,
    clock: Callable[[], datetime] = utc_now,
    payment_settings: PaymentSettings | None = None,
    invoicing_settings: InvoicingSettings | None = None,
) -> FastAPI:
    """The app on `settings.resolved_database_url` (or an open `db`), with the sandbox
    payment provider unless another is given."""
    api = resolve_secrets(api_settings or ApiSettings(), settings.data_dir)
    owns_db = db is None
    database = db or Database.open(settings.resolved_database_url)
    card_provider = provider or configured_provider(api)
    ctx = ApiContext(database, settings, api, card_provider, clock, payment_settings,
                     invoicing_settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        log.info("api.started backend=%s", database.backend)
        # Request handlers beyond the pool's connections would only queue for one (and time
        # out after 30 s); fewer threads also contend less for the GIL.
        anyio.to_thread.current_default_thread_limiter().total_tokens = api.threads
        stop = asyncio.Event()
        settler = None
        if api.settle_interval_s > 0:
            settler = asyncio.create_task(run_settler(ctx, api.settle_interval_s, stop))
        yield
        stop.set()
        if settler is not None:
            await settler
        if owns_db:
            database.dispose()

    app = FastAPI(title="evbill", version=__version__, lifespan=lifespan,
                  description="Billing and payments for EV charging: drivers, operators, "
                              "ad hoc payment. Errors are RFC 9457 problem details.")  # fmt: skip
    app.state.evbill = ctx
    install_problem_handlers(app)
    document_problems(app)
    app.add_middleware(BodyLimit, limit=api.max_body_bytes)
    app.state.routers = []
    for module in (auth, driver, account, documents, profile, operator, staff, tariffs, payments,
                   public):
        mount(app, module.router)
    from evbill.portal.routes import install_portal

    install_portal(app)
    from evbill.portal.render import STATIC

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def configured_provider(api: ApiSettings) -> CardProvider:
    """The processor EVBILL_PAYMENT_PROVIDER names: Stripe with its keys, else the sandbox
    (whose state lives in this process)."""
    chosen = PaymentProviderSettings()
    if chosen.payment_provider != "stripe":
        secret = api.sandbox_webhook_secret
        return SandboxProvider(webhook_secret=None if secret is None else secret.get_secret_value())
    if chosen.stripe_secret_key is None or chosen.stripe_webhook_secret is None:
        raise ProviderNotConfigured("EVBILL_STRIPE_SECRET_KEY and EVBILL_STRIPE_WEBHOOK_SECRET: "
                                    "both are required when EVBILL_PAYMENT_PROVIDER=stripe")
    from evbill.payments.providers.stripe import StripeProvider

    return StripeProvider.from_api_key(
        chosen.stripe_secret_key.get_secret_value(),
        webhook_secret=chosen.stripe_webhook_secret.get_secret_value())


def mount(app: FastAPI, router: APIRouter) -> None:
    """Include `router` and remember it, so the access-matrix test sees every route."""
    app.state.routers.append(router)
    app.include_router(router)


def api_routes(app: FastAPI) -> list[APIRoute]:
    """Every API and portal route of the app, with full paths and dependencies."""
    return [r for router in app.state.routers for r in router.routes if isinstance(r, APIRoute)]
