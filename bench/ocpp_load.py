"""OCPP load benchmark: N stations on loopback sending MeterValues; connections, msg/s, latency.

Runs the same load against `evbill serve` (a subprocess on a temp SQLite file, and on
PostgreSQL when --database-url is given) and against a bare central system written with the
`ocpp` library that stores nothing (the ceiling). Every station boots, starts a 1.6
transaction, then sends MeterValues (with transactionId) at its share of --rate, one CALL
outstanding at a time as OCPP requires. Client work is split over --clients processes.

    .venv/bin/python bench/ocpp_load.py                       # defaults: about a minute
    .venv/bin/python bench/ocpp_load.py --stations 5000 --rate 250 --duration 15  # 5,000 held
    .venv/bin/python bench/ocpp_load.py --database-url postgresql+psycopg://root@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import multiprocessing as mp
import os
import random
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from array import array
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

PASSWORD = "bench-station-password-0001"
ID_TAG = "BENCH-TAG-0001"
T0 = datetime(2025, 1, 1, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent


def raise_fd_limit() -> int:
    """Raise the soft open-files limit to the hard limit; return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ts(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.000Z")


# --- the bare central system (the ceiling) ---------------------------------------------------


def serve_bare(port: int) -> None:
    """A CSMS built with the `ocpp` library that answers everything and stores nothing."""
    from ocpp.routing import on
    from ocpp.v16 import ChargePoint
    from ocpp.v16 import call_result as result
    from websockets.asyncio.server import serve

    now = _ts(datetime.now(UTC))
    ids = iter(range(1, 10**9))

    class Bare(ChargePoint):  # type: ignore[misc]
        @on("BootNotification")
        def on_boot(self, **_: Any) -> Any:
            return result.BootNotification(current_time=now, interval=300, status="Accepted")

        @on("StartTransaction")
        def on_start(self, **_: Any) -> Any:
            return result.StartTransaction(transaction_id=next(ids),
                                           id_tag_info={"status": "Accepted"})

        @on("MeterValues")
        def on_meter(self, **_: Any) -> Any:
            return result.MeterValues()

        @on("StopTransaction")
        def on_stop(self, **_: Any) -> Any:
            return result.StopTransaction()

    async def handler(ws: Any) -> None:
        with contextlib.suppress(Exception):  # the station left
            await Bare(ws.request.path.rsplit("/", 1)[-1], ws).start()

    async def main() -> None:
        raise_fd_limit()
        async with serve(handler, "127.0.0.1", port, subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                         compression=None, ping_interval=None, backlog=4096):
            stop = asyncio.Event()
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
            await stop.wait()

    asyncio.run(main())


# --- evbill as the server --------------------------------------------------------------------


def register_stations(database_url: str, ids: list[str]) -> None:
    """Migrate the database and register the stations (one shared password hash) and token."""
    from evbill.accounts.tokens import TokenRegistry
    from evbill.ocpp.auth import hash_station_password
    from evbill.sessions.commands import IdTokenType
    from evbill.store.database import Database
    from evbill.store.migrate import ensure_schema
    from evbill.store.tables import ConnectorRow, EvseRow, StationRow

    ensure_schema(database_url)
    db = Database.open(database_url)
    now = datetime.now(UTC)
    hashed = hash_station_password(PASSWORD)
    try:
        with db.sessions() as s, s.begin():
            for sid in ids:
                s.add(StationRow(id=sid, time_zone="Europe/Berlin", password_hash=hashed,
                                 auto_registered=False, connected=False, created_at=now))
            s.flush()
            for sid in ids:
                s.add(EvseRow(station_id=sid, evse_id=1))
                s.add(ConnectorRow(station_id=sid, evse_id=1, connector_id=1, status="Unknown"))
        tokens = TokenRegistry(db)
        with contextlib.suppress(ValueError):  # already there from an earlier run
            tokens.add(ID_TAG, type_=IdTokenType.ISO14443, now=now)
    finally:
        db.dispose()


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not listen on {port} within {timeout}s")


def start_server(name: str, workdir: Path, database_url: str | None) -> Server:
    port = free_port()
    log = workdir / f"{name}.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if name == "bare":
        cmd = [sys.executable, __file__, "--serve-bare", str(port)]
    else:
        env.update({"EVBILL_DATA_DIR": str(workdir / name), "EVBILL_OCPP_PORT": str(port),
                    "EVBILL_OCPP_HOST": "127.0.0.1", "EVBILL_LOG_LEVEL": "WARNING"})
        if database_url:
            env["EVBILL_DATABASE_URL"] = database_url
        cmd = [sys.executable, "-c", "import resource as r; s,h=r.getrlimit(r.RLIMIT_NOFILE); "
               "r.setrlimit(r.RLIMIT_NOFILE,(h,h)); from evbill.cli import main; main()",
               "serve"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    wait_port(port, proc)
    return Server(name, proc, port, log)


# --- the load generator (runs in client processes) -------------------------------------------


def _frame(uid: str, action: str, payload: dict[str, Any]) -> str:
    return json.dumps([2, uid, action, payload], separators=(",", ":"))


_METER = ('[2,"%s","MeterValues",{"connectorId":1,"transactionId":%d,"meterValue":[{'
          '"timestamp":"%s","sampledValue":[{"value":"%d","measurand":'
          '"Energy.Active.Import.Register","unit":"Wh"},{"value":"11000","measurand":'
          '"Power.Active.Import","unit":"W"}]}]}]')


@dataclass
class Tally:
    connected: int = 0
    failed: int = 0
    sent: int = 0
    acked: int = 0
    errors: int = 0


async def _call(ws: Any, uid: str, frame: str) -> list[Any]:
    """Send a CALL and wait for its answer, refusing any CALL the server sends meanwhile."""
    await ws.send(frame)
    while True:
        msg = json.loads(await ws.recv())
        if msg[0] == 2:
            await ws.send(json.dumps([4, msg[1], "NotImplemented", "bench client", {}]))
            continue
        if msg[1] == uid:
            return list(msg)


async def _open_station(url: str, sid: str, tally: Tally, gate: asyncio.Semaphore) -> Any:
    from websockets.asyncio.client import connect

    auth = base64.b64encode(f"{sid}:{PASSWORD}".encode()).decode()
    async with gate:
        try:
            ws = await connect(f"{url}/{sid}", subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                               additional_headers={"Authorization": f"Basic {auth}"},
                               compression=None, ping_interval=None, open_timeout=120,
                               max_queue=4)
            boot = {"chargePointVendor": "bench", "chargePointModel": "load"}
            await _call(ws, "b", _frame("b", "BootNotification", boot))
            start = {"connectorId": 1, "idTag": ID_TAG, "meterStart": 0, "timestamp": _ts(T0)}
            reply = await _call(ws, "s", _frame("s", "StartTransaction", start))
            ws.bench_tx = int(reply[2]["transactionId"]) if reply[0] == 3 else 0
        except Exception:
            tally.failed += 1
            return None
    tally.connected += 1
    return ws


async def _drive(ws: Any, sid: str, interval: float, until: float, tally: Tally,
                 latencies: array[float]) -> None:
    """Send MeterValues every `interval` s (0: back to back) until `until`."""
    n, at = 0, T0
    next_send = time.monotonic() + random.random() * interval
    try:
        while True:
            now = time.monotonic()
            if next_send > now:
                await asyncio.sleep(next_send - now)
            if time.monotonic() >= until:
                return
            n += 1
            at += timedelta(seconds=60)
            uid = f"m{n}"
            frame = _METER % (uid, ws.bench_tx, _ts(at), n * 183)
            began = time.perf_counter()
            tally.sent += 1
            reply = await _call(ws, uid, frame)
            latencies.append((time.perf_counter() - began) * 1000)
            if reply[0] == 3:
                tally.acked += 1
            else:
                tally.errors += 1
            next_send = max(next_send + interval, time.monotonic()) if interval else 0
    except Exception:
        tally.errors += 1


def client_main(url: str, ids: list[str], interval: float, duration: float,
                pipe: Connection) -> None:
    raise_fd_limit()
    asyncio.run(_client(url, ids, interval, duration, pipe))


async def _client(url: str, ids: list[str], interval: float, duration: float,
                  pipe: Connection) -> None:
    tally, latencies = Tally(), array("d")
    gate = asyncio.Semaphore(64)
    sockets = await asyncio.gather(*(_open_station(url, sid, tally, gate) for sid in ids))
    pipe.send(("ready", tally.connected, tally.failed))
    start_at = pipe.recv()  # wall-clock start shared by all client processes
    await asyncio.sleep(max(0.0, start_at - time.time()))
    until = time.monotonic() + duration
    live = [(ws, sid) for ws, sid in zip(sockets, ids, strict=True) if ws is not None]
    await asyncio.gather(*(_drive(ws, sid, interval, until, tally, latencies)
                           for ws, sid in live))
    held = sum(1 for ws, _ in live if ws.state.name == "OPEN")
    pipe.send(("done", held, tally.sent, tally.acked, tally.errors, latencies.tobytes()))
    await asyncio.gather(*(ws.close() for ws, _ in live), return_exceptions=True)


# --- orchestration ---------------------------------------------------------------------------


@dataclass
class Result:
    target: str
    stations: int
    connected: int
    held: int
    acked_per_s: float
    errors: int
    p50_ms: float
    p99_ms: float
    connect_s: float
    log_errors: list[str] = field(default_factory=list)  # ERROR/traceback lines (want none)
    acked: int = 0  # MeterValues answered with a CallResult
    stored: int | None = None  # periodic samples found in the database afterwards (evbill)


def run_target(name: str, url: str, args: argparse.Namespace, ids: list[str]) -> Result:
    ctx = mp.get_context("spawn")
    interval = args.stations / args.rate if args.rate > 0 else 0.0
    chunks = [ids[i::args.clients] for i in range(args.clients)]
    pipes, procs = [], []
    began = time.monotonic()
    for chunk in chunks:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=client_main, args=(url, chunk, interval, args.duration, child))
        proc.start()
        pipes.append(parent)
        procs.append(proc)
    ready = [p.recv() for p in pipes]
    connect_s = time.monotonic() - began
    connected = sum(r[1] for r in ready)
    start_at = time.time() + 0.5
    for p in pipes:
        p.send(start_at)
    done = [p.recv() for p in pipes]
    for proc in procs:
        proc.join(timeout=30)
    lat = array("d")
    for d in done:
        lat.frombytes(d[5])
    ordered = sorted(lat)
    p50 = statistics.median(ordered) if ordered else float("nan")
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else float("nan")
    return Result(name, len(ids), connected, sum(d[1] for d in done),
                  sum(d[3] for d in done) / args.duration, sum(d[4] for d in done), p50, p99,
                  connect_s, acked=sum(d[3] for d in done))


def print_results(results: list[Result], args: argparse.Namespace) -> None:
    rate = f"{args.rate:g}/s offered" if args.rate > 0 else "back to back"
    print(f"\nOCPP 1.6 MeterValues load: {args.stations} stations, {rate}, "
          f"{args.duration:g}s measured, {args.clients} client process(es), {os.cpu_count()} CPUs")
    header = (f"{'target':<18}{'connected':>10}{'held':>7}{'acked msg/s':>13}{'errors':>8}"
              f"{'p50 ms':>9}{'p99 ms':>9}{'connect s':>11}")
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r.target:<18}{r.connected:>10}{r.held:>7}{r.acked_per_s:>13.0f}{r.errors:>8}"
              f"{r.p50_ms:>9.1f}{r.p99_ms:>9.1f}{r.connect_s:>11.1f}")
    for r in results:
        if r.log_errors:
            print(f"{r.target}: {len(r.log_errors)} error line(s) in the server log, first:")
            for line in r.log_errors[:3]:
                print(f"    {line[:300]}")
        if r.stored is not None:
            verdict = "every acknowledged message is stored" if r.stored >= r.acked else "LOST"
            print(f"{r.target}: {r.stored} samples stored for {r.acked} acknowledged "
                  f"MeterValues: {verdict}")
    bare = next((r for r in results if r.target == "bare"), None)
    if args.rate > 0:
        print("(rate-limited run: throughput is the offered rate; use --rate 0 for ceilings)")
    elif bare and bare.acked_per_s:
        for r in results:
            if r is not bare:
                print(f"{r.target}: {r.acked_per_s / bare.acked_per_s:.0%} of the bare ceiling")


def stored_samples(database_url: str, prefix: str) -> int:
    """Periodic samples stored for this run's stations (one per acknowledged MeterValues)."""
    from sqlalchemy import func, select

    from evbill.store.database import Database
    from evbill.store.tables import MeterSampleRow

    db = Database.open(database_url)
    try:
        with db.read_sessions() as s:
            return int(s.scalar(select(func.count()).select_from(MeterSampleRow).where(
                MeterSampleRow.station_id.startswith(prefix),
                MeterSampleRow.context == "Sample.Periodic")) or 0)
    finally:
        db.dispose()


def log_errors(path: Path) -> list[str]:
    """Lines of the server's log that report an error or a traceback (with the next one)."""
    if not path.exists():
        return []
    lines = path.read_text(errors="replace").splitlines()
    return [" | ".join(lines[i : i + 2]) for i, line in enumerate(lines)
            if "ERROR" in line or "Traceback" in line]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stations", type=int, default=500)
    parser.add_argument("--rate", type=float, default=0,
                        help="MeterValues per second over all stations (0: back to back)")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    parser.add_argument("--clients", type=int, default=2, help="load generator processes")
    parser.add_argument("--database-url", help="also run evbill on this PostgreSQL database")
    parser.add_argument("--targets", default="bare,evbill-sqlite,evbill-postgresql")
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return
    print(f"open files limit: {raise_fd_limit()}")
    targets = [t for t in args.targets.split(",")
               if t != "evbill-postgresql" or args.database_url]
    results = []
    with tempfile.TemporaryDirectory(prefix="evbill-bench-") as tmp:
        for target in targets:
            run_id = f"{int(time.time()) % 100000:05d}"
            ids = [f"LOAD{run_id}-{i:05d}" for i in range(args.stations)]
            db_url = None
            if target.startswith("evbill"):
                db_url = args.database_url if target == "evbill-postgresql" else (
                    f"sqlite+pysqlite:///{Path(tmp) / target / 'evbill.sqlite3'}")
                (Path(tmp) / target).mkdir(exist_ok=True)
                register_stations(db_url, ids)
            server = start_server(target, Path(tmp), db_url)
            try:
                print(f"{target}: server on port {server.port}, running …", flush=True)
                results.append(run_target(target, f"ws://127.0.0.1:{server.port}/ocpp",
                                          args, ids))
            finally:
                server.stop()
            results[-1].log_errors = log_errors(server.log)
            if db_url:
                results[-1].stored = stored_samples(db_url, f"LOAD{run_id}-")
    print_results(results, args)


if __name__ == "__main__":
    main()
