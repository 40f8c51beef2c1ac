"""API latency and throughput: a driver's paged session history and the live-session endpoint,
100 concurrent clients against a database holding 1,000,000 sessions.

    .venv/bin/python bench/api.py                          # 1,000,000 sessions, SQLite file
    .venv/bin/python bench/api.py --workers 2 --rates 500,1000
    .venv/bin/python bench/api.py --sessions 100000 --duration 10
    .venv/bin/python bench/api.py --database-url postgresql+psycopg://root@127.0.0.1/benchdb
    .venv/bin/python bench/api.py --database-url sqlite+pysqlite:////tmp/b.sqlite3 --reuse

The data is bulk-loaded first (not timed; `--reuse` skips it on a database this bench filled);
the API runs in its own process(es) (`--workers` uvicorn workers) and the clients (asyncio,
one keep-alive connection each) in this one. Each history client pages through its driver's
sessions (first page, then the next two by cursor); each live client polls a running session
whose cost is rated on every request. Clients send back to back (the server's ceiling), and
with `--rates` also on a fixed schedule totalling R requests/s (latency from the planned send
time). Prints requests/s, p50 and p99.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from cryptography.fernet import Fernet
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).parent))
from api_load import load, user_id
from evbill.accounts.crypto import FieldCipher
from evbill.api.app import create_app
from evbill.api.settings import ApiSettings
from evbill.api.workers import run_workers
from evbill.config import Settings
from evbill.store.database import Database
from evbill.store.migrate import ensure_schema

SECRET = "bench-secret-key-0123456789abcdef"


def api_settings(field_key: str) -> ApiSettings:
    return ApiSettings(secret_key=SecretStr(SECRET), field_key=SecretStr(field_key),
                       settle_interval_s=0)


def bench_app() -> FastAPI:
    """The app each server worker builds (uvicorn imports this module in every worker)."""
    return create_app(Settings(database_url=os.environ["BENCH_DATABASE_URL"],
                               data_dir=Path(tempfile.mkdtemp())),
                      api_settings=api_settings(os.environ["BENCH_FIELD_KEY"]))  # fmt: skip


def serve(url: str, port: int, field_key: str, workers: int) -> None:
    """The server: the app on the bench database in `workers` processes, as `evbill api`
    runs them. Each worker has its own sandbox processor; no payment endpoint is called."""
    os.environ["BENCH_DATABASE_URL"], os.environ["BENCH_FIELD_KEY"] = url, field_key
    run_workers("127.0.0.1", port, workers, app=f"{Path(__file__).stem}:bench_app",
                log_level="WARNING")


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Conn:
    """One keep-alive HTTP/1.1 connection (a minimal client: httpx's pool, not the server,
    becomes the bottleneck at 100 concurrent connections)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 token: str) -> None:  # fmt: skip
        self.reader, self.writer = reader, writer
        self.head = f"Host: bench\r\nAuthorization: Bearer {token}\r\n\r\n".encode()

    @classmethod
    async def open(cls, port: int, token: str) -> Conn:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer, token)

    async def get(self, path: str) -> tuple[int, bytes]:
        self.writer.write(f"GET {path} HTTP/1.1\r\n".encode() + self.head)
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        body = await self.reader.readexactly(length)
        return int(status_line.split()[1]), body

    def close(self) -> None:
        self.writer.close()


class Pace:
    """When a client sends: back to back (closed loop), or on a fixed schedule (open loop,
    `interval` seconds apart). On a schedule, latency counts from the planned send time, so a
    server that falls behind is charged for the wait (no coordinated omission)."""

    def __init__(self, interval: float | None) -> None:
        self.interval = interval
        self.next_at = time.perf_counter() + (random.random() * interval if interval else 0)

    async def start(self) -> float:
        if self.interval is None:
            return time.perf_counter()
        planned = self.next_at
        self.next_at += self.interval
        delay = planned - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        return planned


async def _history_client(conn: Conn, pace: Pace, until: float, out: list[float]) -> None:
    while time.perf_counter() < until:
        cursor = None
        for _ in range(3):
            if time.perf_counter() >= until:
                return
            path = "/api/v1/me/sessions?limit=20" + (f"&cursor={cursor}" if cursor else "")
            t0 = await pace.start()
            status, body = await conn.get(path)
            out.append(time.perf_counter() - t0)
            if status != 200:
                raise RuntimeError(f"history: HTTP {status} {body[:200]!r}")
            cursor = json.loads(body)["next_cursor"]
            if cursor is None:
                break


async def _live_client(conn: Conn, session_id: int, pace: Pace, until: float,
                       out: list[float]) -> None:  # fmt: skip
    while time.perf_counter() < until:
        t0 = await pace.start()
        status, body = await conn.get(f"/api/v1/me/sessions/{session_id}/live")
        out.append(time.perf_counter() - t0)
        if status != 200:
            raise RuntimeError(f"live: HTTP {status} {body[:200]!r}")


async def run(port: int, tokens: list[str], live: dict[int, int], clients: int,
              duration: float, kind: str, rate: float | None) -> list[float]:  # fmt: skip
    """`clients` connections for `duration` seconds; `rate`: total requests/s offered (open
    loop, spread evenly over the clients), or None for back to back."""
    out: list[float] = []
    conns = [await Conn.open(port, tokens[i % len(tokens)]) for i in range(clients)]
    try:
        paces = [Pace(None if rate is None else clients / rate) for _ in conns]
        until = time.perf_counter() + duration
        if kind == "history":
            jobs = [_history_client(c, p, until, out) for c, p in zip(conns, paces, strict=True)]
        else:
            jobs = [_live_client(c, live[i], p, until, out)
                    for i, (c, p) in enumerate(zip(conns, paces, strict=True))]  # fmt: skip
        await asyncio.gather(*jobs)
    finally:
        for c in conns:
            c.close()
    return out


def report(name: str, latencies: list[float], duration: float) -> None:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(f"{name:<44} {len(ordered) / duration:>8.0f} req/s   p50 "
          f"{statistics.median(ordered) * 1000:>7.1f} ms   p99 {p99 * 1000:>7.1f} ms   "
          f"({len(ordered)} requests)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=1_000_000)
    ap.add_argument("--drivers", type=int, default=10_000)
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--duration", type=float, default=20.0, help="seconds per scenario")
    ap.add_argument("--database-url", help="an EMPTY database (default: a temp SQLite file)")
    ap.add_argument("--reuse", action="store_true",
                    help="the database already holds this bench's data (same --sessions, "
                         "--drivers, --clients): skip the load")
    ap.add_argument("--kinds", default="history,live", help="scenarios to run")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    ap.add_argument("--wrk", action="store_true",
                    help="also load the first history page with wrk (a C load generator, "
                         "Debian package wrk) from the same number of connections")
    ap.add_argument("--rates", default="",
                    help="also offer these total request rates (req/s, comma-separated) from "
                         "the concurrent clients on a fixed schedule (open loop)")
    ap.add_argument("--single", action=argparse.BooleanOptionalAction, default=True,
                    help="also run each scenario with one client")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--field-key", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.database_url, args.port, args.field_key, args.workers)
        return
    url = args.database_url or f"sqlite+pysqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    field_key = Fernet.generate_key().decode()
    if args.reuse:
        if not args.database_url:
            ap.error("--reuse needs --database-url")
        ensure_schema(url)  # the data stays; newer migrations are applied
        field_key = _stored_field_key(url)
        data = {"drivers": args.drivers,
                "live": {i: args.sessions + 1 + i for i in range(args.clients)}}
    else:
        ensure_schema(url)
        db = Database.open(url)
        t0 = time.perf_counter()
        data = load(db, FieldCipher(field_key), sessions=args.sessions, drivers=args.drivers,
                    live=args.clients)  # fmt: skip
        _store_field_key(db, field_key)
        print(f"loaded {args.sessions:,} sessions + CDRs, {args.drivers:,} drivers on "
              f"{db.backend} in {time.perf_counter() - t0:.1f} s")
        db.dispose()
    port = _port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", "--database-url", url,
                               "--port", str(port), "--field-key", field_key,
                               "--workers", str(args.workers)],
                              env={**os.environ, "EVBILL_LOG_LEVEL": "WARNING"})  # fmt: skip
    try:
        _wait(port)
        ctx_tokens = _tokens(url, field_key, args.clients, args.drivers)
        print(f"server: {args.workers} uvicorn worker{'s' if args.workers > 1 else ''}, "
              f"{os.cpu_count()} CPUs shared with the clients")
        plans: list[tuple[int, float | None]] = [(args.clients, None)]
        if args.single:
            plans.insert(0, (1, None))
        plans += [(args.clients, float(r)) for r in args.rates.split(",") if r]
        for clients, rate in plans:
            for kind in args.kinds.split(","):
                lat = asyncio.run(run(port, ctx_tokens, data["live"], clients, args.duration,
                                      kind, rate))  # fmt: skip
                how = "back to back" if rate is None else f"offered {rate:.0f}/s"
                report(f"{kind} ({clients} client{'s' if clients > 1 else ''}, {how})", lat,
                       args.duration)
        if args.wrk:
            wrk_history(port, ctx_tokens, args.clients, args.duration)
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _tokens(url: str, field_key: str, count: int, drivers: int) -> list[str]:
    """Bearer tokens for the first `count` drivers (the live sessions belong to them)."""
    from itsdangerous import URLSafeTimedSerializer

    signer = URLSafeTimedSerializer(SECRET, salt="evbill.api.token")
    picks = list(range(count)) if count <= drivers else [random.randrange(drivers)
                                                         for _ in range(count)]
    return [signer.dumps({"u": user_id(d)}) for d in picks]


def wrk_history(port: int, tokens: list[str], clients: int, duration: float) -> None:
    """The first history page under wrk: `clients` connections back to back, the drivers'
    tokens in turn. A client that costs little CPU leaves the cores to the server."""
    if shutil.which("wrk") is None:
        print("wrk: not installed (apt-get install wrk); skipped")
        return
    script = Path(tempfile.mkdtemp()) / "history.lua"
    script.write_text("tokens = {" + ",".join(f'"{t}"' for t in tokens) + "}\n"
                      "n = 0\n"
                      "request = function()\n"
                      "  n = n + 1\n"
                      "  return wrk.format('GET', '/api/v1/me/sessions?limit=20',\n"
                      "    {['Authorization'] = 'Bearer ' .. tokens[(n % #tokens) + 1]})\n"
                      "end\n")  # fmt: skip
    cmd = ["wrk", "-t1", f"-c{clients}", f"-d{int(duration)}s", "--latency", "-s", str(script),
           f"http://127.0.0.1:{port}"]  # fmt: skip
    subprocess.run([*cmd[:3], "-d3s", *cmd[4:]], capture_output=True, check=True)  # warm-up
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    pct = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)$", out, re.MULTILINE))
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Socket errors: .*|Non-2xx.*", out)
    print(f"{f'history via wrk ({clients} connections)':<44} "
          f"{float(rate.group(1)) if rate else 0:>8.0f} req/s   p50 {pct.get('50', '?'):>9}"
          f"   p99 {pct.get('99', '?'):>9}" + (f"   {errors.group(0)}" if errors else ""))


def _store_field_key(db: Database, field_key: str) -> None:
    """Remember the load's field key beside the data, so `--reuse` can decrypt what it wrote."""
    with db.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE bench_meta (field_key TEXT NOT NULL)")
        conn.execute(text("INSERT INTO bench_meta VALUES (:k)"), {"k": field_key})


def _stored_field_key(url: str) -> str:
    db = Database.open(url)
    try:
        with db.engine.connect() as conn:
            return str(conn.exec_driver_sql("SELECT field_key FROM bench_meta").scalar_one())
    finally:
        db.dispose()


def _wait(port: int) -> None:
    for _ in range(300):
        try:
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2).raise_for_status()
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("the API server did not come up")


if __name__ == "__main__":
    main()
