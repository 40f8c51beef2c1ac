"""`evbill serve`: run the OCPP gateway on the configured database until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Annotated

import typer

from evbill.api.server import serve_portal
from evbill.cli.app import app, console
from evbill.config import Settings, get_settings
from evbill.ocpp.server import Gateway, run_gateway
from evbill.payments.session_billing import SessionBilling
from evbill.payments.wiring import build_billing, run_sweeper
from evbill.sessions.service import SessionService
from evbill.store.database import Database
from evbill.store.migrate import ensure_schema

log = logging.getLogger("evbill.serve")

#: How often the payment sweep runs (unclaimed and stale holds, sessions left unsettled).
SWEEP_INTERVAL_S = 60.0


async def _serve(settings: Settings, service: SessionService, db: Database,
                 billing: SessionBilling) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    def started(gateway: Gateway) -> None:
        console.print(f"evbill: OCPP gateway on {gateway.url('{station_id}')}", highlight=False)

    await asyncio.gather(run_gateway(settings, service, db=db, stop=stop, on_started=started),
                         serve_portal(settings, db, stop),
                         run_sweeper(billing, SWEEP_INTERVAL_S, stop))


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="interface (default EVBILL_OCPP_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default EVBILL_OCPP_PORT)")] = None,
) -> None:
    """Run the OCPP gateway (1.6J, 2.0.1, 2.1) on the embedded SQLite or EVBILL_DATABASE_URL."""
    settings = get_settings()
    overrides = {"ocpp_host": host, "ocpp_port": port}
    settings = settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    url = settings.resolved_database_url
    ensure_schema(url)
    db = Database.open(url, echo=settings.database_echo)
    log.info("serve.database url=%s", settings.redacted()["database_url"])
    try:
        billing = build_billing(db)  # payments wired into the session lifecycle
        asyncio.run(_serve(settings, SessionService(db, settings, hooks=billing), db, billing))
    finally:
        db.dispose()
    log.info("serve.stopped")
