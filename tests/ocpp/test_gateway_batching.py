"""The gateway's group commit: concurrent MeterValues share a batch, each station gets its own
outcome, in order; a failing command or a failing batch does not cost the others."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from evbill.ocpp.batching import MeterValuesBatcher
from evbill.sessions.commands import MeterReading, RecordMeterValues, TransactionEventRecorded

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def cmd(n: int) -> RecordMeterValues:
    return RecordMeterValues(f"CS-{n}", 1, str(n), (MeterReading(AT, Decimal(n)),))


class Recorder:
    """A batch-capable service double: answers with the transaction id, refuses "13"."""

    def __init__(self, gate: threading.Event | None = None, refused: str = "13") -> None:
        self.refused = refused
        self.batches: list[list[str]] = []
        self.singles: list[str] = []
        self.gate = gate
        self.fail_batches = False
        self.notified: list[str] = []
        self.fail_hooks = False

    def notify_meter_values(
        self, cmds: Sequence[RecordMeterValues], outcomes: Sequence[object]
    ) -> None:
        self.notified.extend(c.station_id for c, o in zip(cmds, outcomes, strict=True)
                             if isinstance(o, TransactionEventRecorded))  # fmt: skip
        if self.fail_hooks:
            raise RuntimeError("a hook failed")

    def meter_values(self, c: RecordMeterValues) -> TransactionEventRecorded:
        self.singles.append(c.station_id)
        if c.transaction_id == self.refused:
            raise ValueError("transaction_id: 13 is refused")
        return TransactionEventRecorded(c.transaction_id or "")

    def meter_values_batch(
        self, cmds: Sequence[RecordMeterValues], *, notify: bool = True
    ) -> list[TransactionEventRecorded | Exception]:
        assert notify is False  # the gateway runs the hooks itself, off the writer
        if self.gate is not None:
            self.gate.wait(5)  # hold the first batch so that the next ones gather
        self.batches.append([c.station_id for c in cmds])
        if self.fail_batches:
            raise RuntimeError("the whole batch failed")
        return [ValueError("transaction_id: 13 is refused") if c.transaction_id == self.refused
                else TransactionEventRecorded(c.transaction_id or "") for c in cmds]  # fmt: skip


@pytest.fixture
def executor() -> ThreadPoolExecutor:
    pool = ThreadPoolExecutor(4)
    yield pool  # type: ignore[misc]
    pool.shutdown(wait=True)


async def test_concurrent_commands_share_batches_and_get_their_own_answers(
    executor: ThreadPoolExecutor,
) -> None:
    gate = threading.Event()
    service = Recorder(gate, refused="none")
    batcher = MeterValuesBatcher.for_service(service, executor, max_batch=50)
    first = asyncio.create_task(batcher.submit(cmd(0)))
    await asyncio.sleep(0.05)  # the first batch is being written (held by the gate)
    rest = [asyncio.create_task(batcher.submit(cmd(n))) for n in range(1, 121)]
    await asyncio.sleep(0.05)
    gate.set()
    answers = await asyncio.gather(first, *rest)
    assert [a.transaction_id for a in answers] == [str(n) for n in range(121)]
    # One for the first command, then the 120 that gathered meanwhile, at most 50 at a time.
    assert [len(b) for b in service.batches] == [1, 50, 50, 20]
    assert [s for b in service.batches for s in b] == [f"CS-{n}" for n in range(121)]
    assert service.singles == []


async def test_a_failing_command_fails_alone(executor: ThreadPoolExecutor) -> None:
    batcher = MeterValuesBatcher.for_service(Recorder(), executor)
    results = await asyncio.gather(*(batcher.submit(cmd(n)) for n in (12, 13, 14)),
                                   return_exceptions=True)  # fmt: skip
    assert isinstance(results[1], ValueError)
    assert [r.transaction_id for r in (results[0], results[2])] == ["12", "14"]  # type: ignore[union-attr]


async def test_a_failing_batch_falls_back_to_one_by_one(executor: ThreadPoolExecutor) -> None:
    service = Recorder()
    service.fail_batches = True
    batcher = MeterValuesBatcher.for_service(service, executor)
    results = await asyncio.gather(*(batcher.submit(cmd(n)) for n in (12, 13, 14)),
                                   return_exceptions=True)  # fmt: skip
    assert isinstance(results[1], ValueError)
    assert [r.transaction_id for r in (results[0], results[2])] == ["12", "14"]  # type: ignore[union-attr]
    assert sorted(service.singles) == ["CS-12", "CS-13", "CS-14"]


async def test_a_cancelled_waiter_does_not_disturb_the_batch(executor: ThreadPoolExecutor) -> None:
    gate = threading.Event()
    service = Recorder(gate)
    batcher = MeterValuesBatcher.for_service(service, executor)
    gone = asyncio.create_task(batcher.submit(cmd(1)))
    stays = asyncio.create_task(batcher.submit(cmd(2)))
    await asyncio.sleep(0.05)
    gone.cancel()  # the station's socket closed while its batch was being written
    gate.set()
    assert (await stays).transaction_id == "2"
    await batcher.drain()
    assert service.batches == [["CS-1", "CS-2"]]


async def test_a_service_without_batches_is_called_one_by_one(
    executor: ThreadPoolExecutor,
) -> None:
    class Plain:
        def __init__(self) -> None:
            self.calls: list[str] = []

        def meter_values(self, c: RecordMeterValues) -> TransactionEventRecorded:
            self.calls.append(c.station_id)
            return TransactionEventRecorded(c.transaction_id or "")

    plain = Plain()
    batcher = MeterValuesBatcher.for_service(plain, executor)
    answers = await asyncio.gather(*(batcher.submit(cmd(n)) for n in range(3)))
    assert [a.transaction_id for a in answers] == ["0", "1", "2"]
    assert sorted(plain.calls) == ["CS-0", "CS-1", "CS-2"]
    assert batcher.batches == 0


def test_max_batch_must_be_positive(executor: ThreadPoolExecutor) -> None:
    with pytest.raises(ValueError, match="max_batch"):
        MeterValuesBatcher(Recorder().meter_values, executor, max_batch=0)


async def test_hooks_run_before_the_answers_and_a_failing_hook_costs_none(
    executor: ThreadPoolExecutor,
) -> None:
    service = Recorder()
    batcher = MeterValuesBatcher.for_service(service, executor)
    results = await asyncio.gather(*(batcher.submit(cmd(n)) for n in (12, 13, 14)),
                                   return_exceptions=True)  # fmt: skip
    assert service.notified == ["CS-12", "CS-14"]  # committed ones only, before answering
    service.fail_hooks = True
    again = await batcher.submit(cmd(15))
    assert again.transaction_id == "15" and service.notified[-1] == "CS-15"
    assert isinstance(results[1], ValueError)
