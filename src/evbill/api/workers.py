"""API worker processes: N uvicorn servers, each on its own listening socket bound to the same
address with SO_REUSEPORT, so the kernel spreads new connections evenly over them.

(One socket shared by all workers, as `uvicorn --workers` does, lets whichever worker wakes
first accept a whole burst of connections: with the standard asyncio loop, 100 clients
connecting at once all landed in one worker while the other idled.) The parent only
supervises: it starts the workers, restarts one that dies (giving up when a worker keeps
dying right after its start), and on SIGINT/SIGTERM asks every worker to finish its requests
and stop.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import time
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType

from evbill.api.sockets import tcp_listener

__all__ = ["WorkerSetupError", "reuseport_socket", "run_workers"]

log = logging.getLogger(__name__)

#: A worker that dies sooner than this after its start counts as failing to start.
EARLY_DEATH_S = 5.0
MAX_EARLY_DEATHS = 3


class WorkerSetupError(RuntimeError):
    """The workers cannot serve this address (port 0, in use, no SO_REUSEPORT)."""


def reuseport_socket(host: str, port: int, *, listen: bool = True) -> socket.socket:
    """A worker's own socket on the shared address (see `evbill.api.sockets`)."""
    try:
        return tcp_listener(host, port, reuse_port=True, listen=listen)
    except OSError as exc:
        if not hasattr(socket, "SO_REUSEPORT"):
            raise WorkerSetupError("SO_REUSEPORT: not available here; run one worker") from exc
        raise


def _serve_one(app: str, host: str, port: int, log_level: str) -> None:  # pragma: no cover
    """A worker: its own socket, one uvicorn server on the asyncio loop, until SIGTERM."""
    import uvicorn

    logging.basicConfig(level=log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")  # fmt: skip
    sock = reuseport_socket(host, port)
    config = uvicorn.Config(app, factory=True, loop="asyncio", http="httptools",
                            lifespan="on", log_level="warning", access_log=False,
                            server_header=False)  # fmt: skip
    uvicorn.Server(config).run(sockets=[sock])


def run_workers(host: str, port: int, workers: int, *,
                app: str = "evbill.api.server:app_from_environment",
                log_level: str = "INFO") -> int:  # fmt: skip
    """Serve the app factory `app` ("module:function") in `workers` processes until SIGINT or
    SIGTERM; returns the exit status (0 after a requested stop)."""
    if port == 0:
        raise WorkerSetupError("port: name one; with port 0 every worker would get its own")
    try:  # the address must be free (or shared with SO_REUSEPORT by our own kind)
        reuseport_socket(host, port, listen=False).close()
    except OSError as exc:
        raise WorkerSetupError(f"{host}:{port}: cannot listen ({exc.strerror})") from None
    ctx = multiprocessing.get_context("spawn")
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        log.info("api.workers_stopping signal=%s", signal.Signals(signum).name)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}

    def start() -> tuple[BaseProcess, float]:
        proc = ctx.Process(target=_serve_one, args=(app, host, port, log_level), daemon=False)
        proc.start()
        return proc, time.monotonic()

    procs = [start() for _ in range(workers)]
    log.info("api.workers_started count=%d pids=%s", workers, [p.pid for p, _ in procs])
    early_deaths, status = 0, 0
    try:
        while not stopping:
            wait([p.sentinel for p, _ in procs], timeout=0.5)
            for i, (proc, started) in enumerate(procs):
                if proc.is_alive() or stopping:
                    continue
                early = time.monotonic() - started < EARLY_DEATH_S
                early_deaths = early_deaths + 1 if early else 0
                log.warning("api.worker_died pid=%s exitcode=%s early=%s", proc.pid,
                            proc.exitcode, early)  # fmt: skip
                if early_deaths >= MAX_EARLY_DEATHS:
                    log.error("api.workers_failing: workers die right after starting; stopping")
                    stopping, status = True, 1
                    break
                procs[i] = start()
    finally:
        for proc, _ in procs:
            if proc.is_alive() and proc.pid is not None:
                proc.terminate()  # SIGTERM: uvicorn finishes open requests, then exits
        for proc, _ in procs:
            proc.join(20)
            if proc.is_alive():
                proc.kill()
                proc.join()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return status
