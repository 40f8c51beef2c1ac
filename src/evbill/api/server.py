"""Serving the API and portal with uvicorn inside an existing asyncio loop (beside the OCPP
gateway in `evbill serve`, or in the browser tests) until `stop` is set."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

__all__ = ["serve_api"]

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
    server = _Server(config)
    task = asyncio.create_task(server.serve())
    log.info("api.listening url=http://%s:%d", host, port)
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    await task
    stopped.cancel()
