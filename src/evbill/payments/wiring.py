"""The periodic payment sweep that `evbill serve` runs beside the gateway. (The services
themselves are wired by the shell at start-up: `evbill.cli.serve`.)"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from evbill.payments.session_billing import SessionBilling

__all__ = ["run_sweeper"]

log = logging.getLogger("evbill.payments")


async def run_sweeper(billing: SessionBilling, interval_s: float, stop: asyncio.Event) -> None:
    """Every `interval_s`: void unclaimed holds, release stale ones, settle what is due."""
    while not stop.is_set():
        try:
            report = await asyncio.to_thread(billing.sweep)
            if report.unclaimed or report.stale or report.settled:
                log.info("payments.sweep unclaimed=%d stale=%d settled=%d",
                         len(report.unclaimed), len(report.stale), len(report.settled))
        except Exception:  # a failed pass must not end the loop; it is logged and retried
            log.exception("payments.sweep_failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
