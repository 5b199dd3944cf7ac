"""Asking several replicas and keeping the first answer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable


async def first_answer(*answers: Awaitable[str]) -> str:
    tasks = [asyncio.ensure_future(a) for a in answers]
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    return next(iter(done)).result()
