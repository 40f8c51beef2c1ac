"""Station-authentication flood (issue 11, F7): wrong-password handshakes against `evbill serve`
while a real station connects and the API answers.

Starts `evbill serve` (gateway and API in one process, as shipped) on a temporary SQLite
database with one registered station, signs a driver up, then at once:
  - floods the gateway with --attempts handshakes for the real station's id with a wrong
    password, --concurrency at a time, from --addresses loopback addresses (127.0.2.x);
  - connects the real station (right password, its own address 127.0.0.2) and boots it;
  - asks the API for the driver's sessions every 10 ms.
Prints how the flood was answered (401 / 429 / no answer), how long it took, when the real
station got in, and the API's latency before and during the flood (p50 / p99 / max).

    /work/main/.venv/bin/python bench/station_auth_flood.py                 # 2,000 attempts
    /work/main/.venv/bin/python bench/station_auth_flood.py --addresses 200  # spread out
    /work/main/.venv/bin/python bench/station_auth_flood.py --api-apart      # `evbill api`

`--api-apart` runs the API in its own process (`evbill serve --no-api` + `evbill api`, as a
deployment with a real processor does; a Stripe configuration that is never called), so the
gateway's handshake work and the API do not share one event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

STATION, PASSWORD, WRONG = "CS-REAL", "real-station-password-0001", "wrong-password-000000000"
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def prepare(data_dir: Path) -> None:
    """Migrate the database and register the real station (its password as a keyed hash)."""
    from evbill.accounts.stations import StationRegistry
    from evbill.config import sqlite_url_for
    from evbill.store.database import Database
    from evbill.store.migrate import ensure_schema

    url = sqlite_url_for(data_dir)
    ensure_schema(url)
    db = Database.open(url)
    try:
        StationRegistry(db).add(STATION, time_zone="Europe/Berlin", now=datetime.now(UTC),
                                password=PASSWORD, evses=1)
    finally:
        db.dispose()


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"evbill serve exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port} after {timeout} s")


async def handshake(url: str, password: str, source: str, timeout: float) -> str:
    """'101', '401', '429', … or 'no answer' for one handshake."""
    try:
        ws = await asyncio.wait_for(connect(url, subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                                            additional_headers=basic(STATION, password),
                                            local_addr=(source, 0), open_timeout=timeout),
                                    timeout)
    except InvalidStatus as refused:
        return str(refused.response.status_code)
    except (OSError, TimeoutError):
        return "no answer"
    await ws.close()
    return "101"


async def flood(url: str, attempts: int, concurrency: int, addresses: int,
                timeout: float) -> tuple[Counter[str], float]:  # fmt: skip
    gate, outcomes = asyncio.Semaphore(concurrency), Counter[str]()

    async def one(i: int) -> None:
        async with gate:
            source = f"127.0.2.{i % addresses + 1}" if addresses > 1 else "127.0.0.1"
            outcomes[await handshake(url, WRONG, source, timeout)] += 1

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(attempts)))
    return outcomes, time.perf_counter() - started


async def real_station(url: str, delay: float) -> tuple[float, str]:
    """Seconds from the attempt to a BootNotification answer, and what happened."""
    await asyncio.sleep(delay)
    started = time.perf_counter()
    try:
        async with connect(url, subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                           additional_headers=basic(STATION, PASSWORD),
                           local_addr=("127.0.0.2", 0), open_timeout=30) as ws:
            await ws.send(json.dumps([2, "boot", "BootNotification",
                                      {"chargePointVendor": "Bench", "chargePointModel": "X"}]))
            answer = json.loads(await asyncio.wait_for(ws.recv(), 30))
            return time.perf_counter() - started, f"BootNotification {answer[2]['status']}"
    except InvalidStatus as refused:
        return time.perf_counter() - started, f"refused {refused.response.status_code}"


async def probe_api(base: str, token: str, stop: asyncio.Event) -> list[float]:
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        while not stop.is_set():
            started = time.perf_counter()
            answer = await client.get("/api/v1/me/sessions",
                                      headers={"Authorization": f"Bearer {token}"})
            answer.raise_for_status()
            latencies.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.01)
    return latencies


def summary(latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (f"n={len(ordered)} p50={statistics.median(ordered):.1f} ms p99={p99:.1f} ms "
            f"max={ordered[-1]:.1f} ms")


async def run(args: argparse.Namespace, ocpp_port: int, api_port: int) -> None:
    base, url = f"http://127.0.0.1:{api_port}", f"ws://127.0.0.1:{ocpp_port}/ocpp/{STATION}"
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        signed = await client.post("/api/v1/auth/signup", json={
            "email": "bench@example.org", "password": "bench password 0001", "name": "Bench"})
        signed.raise_for_status()
        token = signed.json()["access_token"]
    stop = asyncio.Event()
    quiet = asyncio.create_task(probe_api(base, token, stop))
    await asyncio.sleep(2.0)
    stop.set()
    baseline = await quiet
    stop = asyncio.Event()
    probing = asyncio.create_task(probe_api(base, token, stop))
    station = asyncio.create_task(real_station(url, 0.3))
    outcomes, took = await flood(url, args.attempts, args.concurrency, args.addresses,
                                 args.timeout)
    stop.set()
    during = await probing
    got_in, how = await station
    print(f"flood: {args.attempts} wrong-password handshakes, {args.concurrency} at a time, "
          f"from {args.addresses} address(es): answered in {took:.2f} s "
          f"({args.attempts / took:.0f}/s)")
    print("  answers: " + ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items())))
    print(f"real station (127.0.0.2, right password): {how} after {got_in * 1000:.0f} ms")
    print(f"API before the flood: {summary(baseline)}")
    print(f"API during the flood: {summary(during)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--addresses", type=int, default=1,
                        help="spread the flood over this many loopback addresses")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per handshake")
    parser.add_argument("--api-apart", action="store_true",
                        help="the API in its own process (evbill api) instead of evbill serve's")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="evbill-flood-") as tmp:
        data_dir = Path(tmp)
        prepare(data_dir)
        ocpp_port, api_port = free_port(), free_port()
        env = {**os.environ, "EVBILL_DATA_DIR": str(data_dir), "EVBILL_LOG_LEVEL": "ERROR",
               "EVBILL_OCPP_PORT": str(ocpp_port), "EVBILL_API_PORT": str(api_port),
               "EVBILL_OCPP_SECURITY_PROFILE": "1"}
        if args.api_apart:
            env.update({"EVBILL_PAYMENT_PROVIDER": "stripe",
                        "EVBILL_STRIPE_SECRET_KEY": "sk_test_never_called",
                        "EVBILL_STRIPE_WEBHOOK_SECRET": "whsec_bench_never_called_0123456789"})
        commands = ([["serve", "--no-api"], ["api"]] if args.api_apart else [["serve"]])
        log = (data_dir / "serve.log").open("wb")
        procs = [subprocess.Popen([sys.executable, "-m", "evbill", *cmd], env=env, cwd=ROOT,
                                  stdout=log, stderr=subprocess.STDOUT) for cmd in commands]
        try:
            wait_port(ocpp_port, procs[0])
            wait_port(api_port, procs[-1])
            asyncio.run(run(args, ocpp_port, api_port))
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
            log.close()


if __name__ == "__main__":
    main()
