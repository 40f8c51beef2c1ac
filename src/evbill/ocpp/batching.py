"""Group commit on the gateway side: one writer drains the stations' pending MeterValues.

Each station handler submits its `RecordMeterValues` and waits for its own future. A single
drain task takes everything queued (up to `max_batch`), hands it to the service's
`meter_values_batch` on the thread pool (one transaction, one COMMIT) and resolves each
future with that command's outcome only after the COMMIT. While a batch is being written
the next one gathers, so batches grow with the load and no timer adds latency when idle.

The service's hooks (`notify_meter_values`, e.g. payments watching the running cost) run
after the COMMIT and before the answers, like `meter_values` does, but on another pool
thread: the writer is already writing the next batch meanwhile.

A service without `meter_values_batch` (or a batch call that fails as a whole) falls back
to `meter_values` per command, so one bad neighbour never costs a station its answer.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Any, Protocol, runtime_checkable

from evbill.sessions.commands import RecordMeterValues, TransactionEventRecorded

__all__ = ["BatchingService", "MeterValuesBatcher"]

log = logging.getLogger("evbill.ocpp.batching")

_Pending = tuple[RecordMeterValues, "asyncio.Future[TransactionEventRecorded]"]


@runtime_checkable
class BatchingService(Protocol):
    """A session service that can record many MeterValues in one transaction."""

    def meter_values(self, cmd: RecordMeterValues) -> TransactionEventRecorded: ...

    def meter_values_batch(
        self, cmds: Sequence[RecordMeterValues], *, notify: bool = True
    ) -> Sequence[TransactionEventRecorded | Exception]: ...

    def notify_meter_values(
        self, cmds: Sequence[RecordMeterValues], outcomes: Sequence[Any]
    ) -> None: ...


class MeterValuesBatcher:
    """`await batcher.submit(cmd)` returns once `cmd` is committed (or raises its error)."""

    def __init__(
        self,
        single: Callable[[RecordMeterValues], TransactionEventRecorded],
        executor: Executor,
        *,
        batch: Callable[[Sequence[RecordMeterValues]], Sequence[Any]] | None = None,
        notify: Callable[[Sequence[RecordMeterValues], Sequence[Any]], None] | None = None,
        max_batch: int = 500,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch: must be at least 1, got {max_batch}")
        self._single = single
        self._batch = batch
        self._notify = notify
        self._finishing: set[asyncio.Task[None]] = set()
        self._executor = executor
        self._max_batch = max_batch
        self._pending: list[_Pending] = []
        self._drain_task: asyncio.Task[None] | None = None
        self.batches = 0  # how many batches were written (for tests and logs)

    @classmethod
    def for_service(
        cls, service: Any, executor: Executor, *, max_batch: int = 500
    ) -> MeterValuesBatcher:
        if not isinstance(service, BatchingService):
            return cls(service.meter_values, executor, max_batch=max_batch)
        batch = functools.partial(service.meter_values_batch, notify=False)
        return cls(service.meter_values, executor, batch=batch,
                   notify=service.notify_meter_values, max_batch=max_batch)  # fmt: skip

    async def submit(self, cmd: RecordMeterValues) -> TransactionEventRecorded:
        loop = asyncio.get_running_loop()
        if self._batch is None:
            return await loop.run_in_executor(self._executor, self._single, cmd)
        future: asyncio.Future[TransactionEventRecorded] = loop.create_future()
        self._pending.append((cmd, future))
        if self._drain_task is None or self._drain_task.done():
            self._drain_task = loop.create_task(self._drain())
        # A station that goes away cancels only its own future; the writer skips it.
        return await future

    async def _drain(self) -> None:
        while self._pending:
            taken = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            await self._write(taken)

    async def _write(self, taken: list[_Pending]) -> None:
        assert self._batch is not None
        loop = asyncio.get_running_loop()
        cmds = [cmd for cmd, _ in taken]
        try:
            outcomes = await loop.run_in_executor(self._executor, self._batch, cmds)
            if len(outcomes) != len(cmds):
                raise RuntimeError(f"batch: {len(outcomes)} outcomes for {len(cmds)} commands")
        except Exception:
            log.exception("ocpp.batch_failed size=%d fallback=single", len(cmds))
            outcomes = await asyncio.gather(
                *(loop.run_in_executor(self._executor, self._single, cmd) for cmd in cmds),
                return_exceptions=True,
            )  # `meter_values` has told the hooks itself
            self._resolve(taken, outcomes)
            return
        self.batches += 1
        if self._notify is None:
            self._resolve(taken, outcomes)
            return
        task = loop.create_task(self._notify_then_resolve(taken, cmds, outcomes))
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)

    async def _notify_then_resolve(
        self, taken: list[_Pending], cmds: list[RecordMeterValues], outcomes: Sequence[Any]
    ) -> None:
        assert self._notify is not None
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._notify, cmds, outcomes)
        except Exception:  # committed already: a failing hook must not cost the answers
            log.exception("ocpp.batch_hooks_failed size=%d", len(cmds))
        self._resolve(taken, outcomes)

    @staticmethod
    def _resolve(taken: list[_Pending], outcomes: Sequence[Any]) -> None:
        for (_, future), outcome in zip(taken, outcomes, strict=True):
            if future.done():
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    async def drain(self) -> None:
        """Wait until everything submitted so far is written (gateway shutdown)."""
        while self._drain_task is not None and not self._drain_task.done():
            await asyncio.shield(self._drain_task)
        while self._finishing:
            await asyncio.gather(*self._finishing, return_exceptions=True)
