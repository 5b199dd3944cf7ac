"""The team server's webhook worker: for the server's life it processes the deliveries
recorded in the store, oldest first, one at a time in a worker thread. A new delivery wakes
it; it also looks every few seconds, so it takes up deliveries left by a server that stopped
(or died) before processing them, retries that came due, and those another server process
recorded. Each delivery is claimed in the store first, so of several processes one does it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

import anyio.to_thread

from greenline.api import Greenline

#: how often the worker looks for deliveries nobody woke it for (seconds)
POLL_SECONDS = 2.0
#: how often the merge queue on pull requests asks GitHub what it may have missed (seconds)
SYNC_SECONDS = 300.0
log = logging.getLogger("greenline.webhooks")


class WebhookWorker:
    """Processes stored deliveries in the background while the server runs."""

    def __init__(self, poll: float = POLL_SECONDS) -> None:
        self.poll = poll
        self._wake = asyncio.Event()
        self._stopping = False
        self.processed = 0

    def wake(self) -> None:
        self._wake.set()

    async def _run(self, gl: Greenline) -> None:
        synced = -SYNC_SECONDS  # at start: what happened while the server was down
        while not self._stopping:
            if time.monotonic() - synced >= SYNC_SECONDS:
                await anyio.to_thread.run_sync(_sync_queue, gl)
                synced = time.monotonic()
            try:
                done = await anyio.to_thread.run_sync(gl.github.process_next)
            except Exception:  # the store is away: try again later, keep the server up
                log.exception("greenline: processing a webhook delivery failed")
                done = None
            if done is not None:
                self.processed += 1
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll)

    @contextlib.asynccontextmanager
    async def running(self, gl: Greenline) -> AsyncIterator[None]:
        """The worker for the block; at its end the delivery in hand is finished first."""
        task = asyncio.create_task(self._run(gl))
        try:
            yield
        finally:
            self._stopping = True
            self.wake()
            try:
                await asyncio.wait_for(task, timeout=30)
            except TimeoutError:
                task.cancel()


def _sync_queue(gl: Greenline) -> None:
    """The merge queue on pull requests catches up with GitHub (CI results whose webhook never
    arrived, its base branch moved by hand); a failure is logged and tried again later."""
    try:
        gl.pull_queue.sync()
    except Exception:
        log.exception("greenline: the merge queue could not catch up with GitHub")
