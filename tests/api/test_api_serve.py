"""`serve_portal`: the API and portal served by uvicorn in the caller's loop until stop; a
port in use leaves the caller (the OCPP gateway) running."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import httpx
import pytest

from evbill.api.server import serve_portal
from evbill.config import Settings
from evbill.store.database import Database


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.e2e
async def test_serves_until_stopped(database_url: str, tmp_path: Path) -> None:
    db, port = Database.open(database_url), _port()
    settings = Settings(database_url=database_url, data_dir=tmp_path, api_port=port)
    stop = asyncio.Event()
    task = asyncio.create_task(serve_portal(settings, db, stop))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(100):
                try:
                    r = await http.get("/openapi.json")
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.05)
            assert r.status_code == 200 and r.json()["info"]["title"] == "evbill"
            assert (tmp_path / "api-secrets.json").stat().st_mode & 0o077 == 0
        stop.set()
        await asyncio.wait_for(task, 10)
    finally:
        db.dispose()


@pytest.mark.e2e
async def test_a_busy_port_does_not_end_the_caller(database_url: str, tmp_path: Path) -> None:
    db = Database.open(database_url)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        settings = Settings(database_url=database_url, data_dir=tmp_path,
                            api_port=busy.getsockname()[1])
        try:
            await asyncio.wait_for(serve_portal(settings, db, asyncio.Event()), 10)
        finally:
            db.dispose()
