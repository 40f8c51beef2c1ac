"""Hypothesis-generated OCPP frames for 1.6, 2.0.1 and 2.1 against the gateway over a real
socket, on the real session service and store (issue 11: fuzzing that keeps F12 closed).

Frames are valid-shaped CALLs with generated payloads, other JSON, text that is not JSON,
binary frames, deep nesting and large frames. Whatever arrives, the station gets a
CALLRESULT or a CALLERROR for it, the connection stays open (the next Heartbeat is
answered), and a refused frame changes nothing stored.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from ocpp_kit import gateway_config
from sqlalchemy import MetaData, select
from websockets.asyncio.client import ClientConnection, connect

from evbill.accounts.stations import StationRegistry
from evbill.config import Settings, sqlite_url_for
from evbill.ocpp.server import ADAPTERS, Gateway
from evbill.sessions.service import SessionService
from evbill.store.database import Database
from evbill.store.migrate import ensure_schema

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PROTOCOLS = ("ocpp1.6", "ocpp2.0.1", "ocpp2.1")
ANSWER_TIMEOUT_S = 10.0
#: Columns that legitimately move on any frame (presence bookkeeping, not data).
_VOLATILE = {"last_seen_at", "connected_at", "connected"}

json_leaf = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
             | st.floats(allow_nan=False) | st.text(max_size=40))  # fmt: skip
json_value = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=5)
                          | st.dictionaries(st.text(max_size=12), inner, max_size=5),
                          max_leaves=30)  # fmt: skip


def frames(protocol: str) -> st.SearchStrategy[str | bytes]:
    actions = sorted(ADAPTERS[protocol].known_actions)
    message_id = st.text(min_size=1, max_size=36) | st.integers() | st.none()
    valid_shaped = st.builds(
        lambda mid, action, payload: json.dumps([2, mid, action, payload]),
        st.text(min_size=1, max_size=36), st.sampled_from(actions) | st.text(max_size=30),
        st.dictionaries(st.text(max_size=20), json_value, max_size=6))
    wrong_types = st.builds(lambda *parts: json.dumps(list(parts)),
                            st.sampled_from([2, "2", 2.0, 7, -1, None]), message_id,
                            json_value, json_value)
    other_json = json_value.map(json.dumps)
    not_json = st.text(max_size=200)
    binary = st.binary(min_size=1, max_size=64)
    deep = st.integers(33, 60_000).map(lambda n: "[" * n)
    deep_payload = st.integers(33, 5_000).map(
        lambda n: '[2, "deep", "Heartbeat", ' + "[" * n + "]" * n + "]")
    huge = st.integers(1_000, 500_000).map(
        lambda n: json.dumps([2, "big", "DataTransfer", {"vendorId": "x", "data": "x" * n}]))
    return (valid_shaped | wrong_types | other_json | not_json | binary | deep | deep_payload
            | huge)


def _answered_frame(frame: str | bytes) -> bool:
    """False for frames a CSMS must not answer (a station's CALLRESULT/CALLERROR and 2.1's
    types 5 and 6): those are ignored by design, the fuzzer skips them."""
    if isinstance(frame, bytes):
        return True
    try:
        decoded = json.loads(frame)
    except (ValueError, RecursionError):
        return True
    return not (isinstance(decoded, list) and decoded and decoded[0] in (3, 4, 5, 6)
                and not isinstance(decoded[0], bool))


class Harness:
    """A gateway and one station connection per protocol, on a loop in a background thread."""

    def __init__(self, db: Database, data_dir: Path) -> None:
        self.db = db
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        service = SessionService(db, Settings(data_dir=data_dir), clock=lambda: T0)
        self.gateway = Gateway(gateway_config(), service)
        self.run(self.gateway.start())
        self.sockets: dict[str, ClientConnection] = {}
        for protocol in PROTOCOLS:
            self.sockets[protocol] = self.run(self._connect(protocol))
        self.metadata = MetaData()
        self.metadata.reflect(db.engine)

    async def _connect(self, protocol: str) -> ClientConnection:
        return await connect(self.gateway.url(f"FUZZ-{protocol[4:]}"),
                             subprotocols=[protocol],  # type: ignore[list-item]
                             max_size=2**21, open_timeout=10)

    def run(self, coroutine: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return future.result(60)

    async def _exchange(self, protocol: str, frame: str | bytes) -> Any:
        ws = self.sockets[protocol]
        await ws.send(frame)
        return json.loads(await asyncio.wait_for(ws.recv(), ANSWER_TIMEOUT_S))

    def exchange(self, protocol: str, frame: str | bytes) -> Any:
        return self.run(self._exchange(protocol, frame))

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        out: dict[str, list[tuple[Any, ...]]] = {}
        with self.db.engine.connect() as conn:
            for table in self.metadata.sorted_tables:
                columns = [c for c in table.columns if c.name not in _VOLATILE]
                out[table.name] = sorted(map(tuple, conn.execute(select(*columns))), key=repr)
        return out

    def close(self) -> None:
        for ws in self.sockets.values():
            self.run(ws.close())
        self.run(self.gateway.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    data_dir = tmp_path_factory.mktemp("ocpp-fuzz")
    url = sqlite_url_for(data_dir)
    ensure_schema(url)
    db = Database.open(url)
    for protocol in PROTOCOLS:
        StationRegistry(db).add(f"FUZZ-{protocol[4:]}", time_zone="Europe/Berlin", now=T0,
                                evses=2)
    h = Harness(db, data_dir)
    try:
        yield h
    finally:
        h.close()
        db.dispose()


def _check(harness: Harness, protocol: str, frame: str | bytes) -> None:
    before = harness.snapshot()
    answer = harness.exchange(protocol, frame)
    assert isinstance(answer, list) and answer and answer[0] in (3, 4), answer
    if answer[0] == 4:
        assert len(answer) == 5 and isinstance(answer[2], str) and isinstance(answer[4], dict)
        assert harness.snapshot() == before, f"a refused frame changed the store: {answer}"
    heartbeat = harness.exchange(protocol, json.dumps([2, "hb", "Heartbeat", {}]))
    assert heartbeat[:2] == [3, "hb"]  # still connected, still served


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_every_frame_is_answered_and_refusals_change_nothing(harness: Harness,
                                                             protocol: str) -> None:
    @given(frame=frames(protocol).filter(_answered_frame))
    @settings(max_examples=60, deadline=None, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def fuzz(frame: str | bytes) -> None:
        _check(harness, protocol, frame)

    fuzz()
