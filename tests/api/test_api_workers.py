"""`evbill api --workers N`: the API and portal in several processes on one database, apart
from the gateway (`evbill serve --no-api`), which needs a processor outside the process."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from evbill.api.sockets import tcp_listener
from evbill.api.workers import WorkerSetupError, reuseport_socket, run_workers
from evbill.cli import app

STRIPE_ENV = {"EVBILL_PAYMENT_PROVIDER": "stripe", "EVBILL_STRIPE_SECRET_KEY": "sk_test_unused",
              "EVBILL_STRIPE_WEBHOOK_SECRET": "whsec_workers_test_4f1c9a2e7b"}  # fmt: skip


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def test_the_sandbox_keeps_the_api_beside_the_gateway(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["api", "--workers", "2"], env={
        "EVBILL_PAYMENT_PROVIDER": "sandbox", "EVBILL_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 2
    assert "sandbox" in result.output and "evbill serve" in result.output
    assert not (tmp_path / "api-secrets.json").exists()  # refused before touching anything


@pytest.mark.e2e
def test_workers_serve_one_database_with_one_set_of_keys(database_url: str,
                                                         tmp_path: Path) -> None:  # fmt: skip
    port = _port()
    env = {**os.environ, **STRIPE_ENV, "EVBILL_DATABASE_URL": database_url,
           "EVBILL_DATA_DIR": str(tmp_path), "EVBILL_API_PORT": str(port),
           "EVBILL_API_HOST": "127.0.0.1", "EVBILL_API_SETTLE_INTERVAL_S": "0"}  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "evbill", "api", "--workers", "2"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/openapi.json", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            assert time.monotonic() < deadline, "evbill api did not come up"
            time.sleep(0.2)
        # Two worker processes behind one socket; their keys were made once, by the parent.
        workers = [p for p in _children(proc.pid)
                   if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]
        assert len(workers) == 2
        assert (tmp_path / "api-secrets.json").stat().st_mode & 0o077 == 0
        signed = httpx.post(f"{base}/api/v1/auth/signup", json={
            "email": "w@example.org", "name": "Wanda", "password": "a long passphrase"})
        assert signed.status_code == 201, signed.text
        headers = {"Authorization": f"Bearer {signed.json()['access_token']}"}
        # A token signed by one worker is good in every worker: 40 fresh connections, which
        # the kernel spreads over both processes.
        for _ in range(40):
            with httpx.Client(base_url=base) as fresh:
                me = fresh.get("/api/v1/me", headers=headers)
                assert me.status_code == 200 and me.json()["email"] == "w@example.org"
                page = fresh.get("/api/v1/me/sessions", headers=headers)
                assert page.status_code == 200 and page.json() == {"items": [],
                                                                   "next_cursor": None}
        # A worker that dies is replaced; the API keeps answering meanwhile.
        os.kill(workers[0], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while True:
            now_serving = [p for p in _children(proc.pid)
                           if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]
            if len(now_serving) == 2 and workers[0] not in now_serving:
                break
            assert time.monotonic() < deadline, f"no replacement worker: {now_serving}"
            time.sleep(0.2)
        assert httpx.get(f"{base}/api/v1/me", headers=headers).status_code == 200
        # The sign-in limit is one count for all workers (five failures per window).
        codes = []
        for _ in range(7):
            with httpx.Client(base_url=base) as fresh:
                codes.append(fresh.post("/api/v1/auth/token", json={
                    "email": "w@example.org", "password": "not the passphrase"}).status_code)
        assert codes == [401] * 5 + [429] * 2
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0


def test_worker_sockets_share_the_port_and_send_at_once() -> None:
    """Each worker listens on its own socket: SO_REUSEPORT lets them share the address, and
    Nagle's algorithm is off (a response's headers and body must not wait for an ACK)."""
    first = reuseport_socket("127.0.0.1", 0)
    try:
        port = first.getsockname()[1]
        second = reuseport_socket("127.0.0.1", port)
        try:
            for sock in (first, second):
                assert sock.proto == socket.IPPROTO_TCP  # asyncio sets TCP_NODELAY on these
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
                assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
            with socket.create_connection(("127.0.0.1", port)) as client:
                ready, _, _ = select.select([first, second], [], [], 5)
                accepted, _ = ready[0].accept()
                with accepted:
                    client.sendall(b"x")
                    assert accepted.recv(1) == b"x"
        finally:
            second.close()
    finally:
        first.close()
    with pytest.raises(WorkerSetupError, match="port"):
        run_workers("127.0.0.1", 0, 2)
    single = tcp_listener("127.0.0.1", 0)  # `evbill serve`'s API socket: Nagle off as well
    try:
        assert single.proto == socket.IPPROTO_TCP
        assert single.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        with pytest.raises(OSError):  # not shared: a second listener on its port is refused
            tcp_listener("127.0.0.1", single.getsockname()[1])
    finally:
        single.close()
