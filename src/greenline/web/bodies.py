"""Request bodies read with a cap: a body over it is refused (413) before more of it is read,
whatever its Content-Length says."""

from __future__ import annotations

from pathlib import Path

from fastapi import Request

from greenline.errors import InputError


class TooLargeError(InputError):
    """A request body over the route's limit."""

    http_status = 413


def _refuse(limit: int, what: str) -> TooLargeError:
    size = f"{limit >> 20} MiB" if limit >= 1 << 20 else f"{limit} bytes"
    return TooLargeError(
        f"the {what} is over {size}, the limit of this route",
        hint="send less at once (one job's change, one baseline)",
    )


def _declared(request: Request) -> int:
    try:
        return int(request.headers.get("content-length", "0"))
    except ValueError:
        return 0


async def read_body(request: Request, limit: int, what: str) -> bytes:
    """The whole body, at most ``limit`` bytes."""
    if _declared(request) > limit:
        raise _refuse(limit, what)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _refuse(limit, what)
        chunks.append(chunk)
    return b"".join(chunks)


async def spool_body(request: Request, path: Path, limit: int, what: str) -> int:
    """Write the body to ``path`` as it arrives, at most ``limit`` bytes; its size."""
    if _declared(request) > limit:
        raise _refuse(limit, what)
    size = 0
    with path.open("wb") as out:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _refuse(limit, what)
            out.write(chunk)
    return size
