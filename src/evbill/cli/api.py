"""`evbill api`: the REST API and portal on their own, in one or more worker processes.

`evbill serve` runs the API beside the OCPP gateway in one process, which is what the sandbox
processor needs (it keeps holds in memory). With a real processor (EVBILL_PAYMENT_PROVIDER=
stripe) the API can be scaled apart from the gateway: `evbill serve --no-api` for the stations
and `evbill api --workers N` for drivers and operators, all on one database.
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from evbill.cli.app import app, console, fail


@app.command("api")
def api_command(
    host: Annotated[str | None, typer.Option(help="interface (default EVBILL_API_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default EVBILL_API_PORT)")] = None,
    workers: Annotated[int, typer.Option(min=1, help="worker processes")] = 1,
) -> None:
    """Serve the REST API and portal without the OCPP gateway (see `evbill serve --no-api`)."""
    from evbill.api.workers import WorkerSetupError, run_workers
    from evbill.cli.serve import installation_secrets
    from evbill.config import get_settings
    from evbill.payments.config import PaymentProviderSettings
    from evbill.store.migrate import ensure_schema

    settings = get_settings()
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")  # fmt: skip
    if PaymentProviderSettings().payment_provider == "sandbox":
        raise fail("EVBILL_PAYMENT_PROVIDER=sandbox: the sandbox processor keeps its holds in "
                   "the memory of one process, so the API must run beside the gateway — use "
                   "`evbill serve`, or configure a real processor (stripe) to run the API apart")
    # Resolved once here, so the workers read the same keys instead of racing to create them;
    # a publicly known value is refused, as `evbill serve` refuses it.
    installation_secrets(settings)
    ensure_schema(settings.resolved_database_url)
    bind_host, bind_port = host or settings.api_host, port or settings.api_port
    console.print(f"evbill: API and portal on http://{bind_host}:{bind_port} "
                  f"({workers} worker{'s' if workers > 1 else ''})", highlight=False)
    try:
        status = run_workers(bind_host, bind_port, workers, log_level=settings.log_level)
    except WorkerSetupError as exc:
        raise fail(str(exc)) from None
    if status:
        raise typer.Exit(status)
