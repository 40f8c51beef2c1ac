"""Serving the API and portal with uvicorn inside an existing asyncio loop (beside the OCPP
gateway in `evbill serve`, or in the browser tests) until `stop` is set."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from evbill.api.sockets import tcp_listener
from evbill.config import Settings
from evbill.store.database import Database

__all__ = ["app_from_environment", "serve_api", "serve_portal"]

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """Leaves the signals to the caller (`evbill serve` sets `stop` on SIGINT/SIGTERM)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve_api(app: FastAPI, host: str, port: int, stop: asyncio.Event) -> None:
    """Run `app` on host:port until `stop` is set, then shut down gracefully."""
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on",
                            access_log=False, server_header=False)  # fmt: skip
    try:  # bound here: uvicorn would end the whole process when it cannot bind
        sock = tcp_listener(host, port)
    except OSError as exc:
        log.error("api.not_serving host=%s port=%d reason=cannot listen (%s)", host, port,
                  exc.strerror or exc)  # fmt: skip
        return
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    log.info("api.listening url=http://%s:%d", host, port)
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    stopped.cancel()
    await task


async def serve_portal(settings: Settings, db: Database, stop: asyncio.Event) -> None:
    """The API and portal on `settings.api_host:api_port`, sharing the gateway's database
    (what `evbill serve` runs beside the OCPP gateway)."""
    from evbill.api.app import create_app

    app = create_app(settings, db=db)
    await serve_api(app, settings.api_host, settings.api_port, stop)


def app_from_environment() -> FastAPI:
    """The app as `evbill api` serves it: built in each worker process from the environment
    (EVBILL_* settings; the API secrets the parent resolved before starting the workers)."""
    from evbill.api.app import create_app
    from evbill.config import get_settings

    return create_app(get_settings())
