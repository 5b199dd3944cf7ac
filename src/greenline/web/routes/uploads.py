"""Uploads from CI (write scope): a recording pytest session sends its run to the server in
batches, each a JSON body (gzip-compressed when ``Content-Encoding: gzip``) with a sequence
number, so a batch sent again after a lost answer is acknowledged and stored once.

    POST /uploads                        start (or find) the run of an upload key
    POST /uploads/{key}/batches/{seq}    results with their coverage and file reads
    POST /uploads/{key}/finish           complete (every batch stored) or incomplete
    GET  /uploads/{key}                  the run, and the batches stored so far

A body over the limit, or one that inflates past it (a gzip bomb), is refused with 413 before
anything is stored; malformed JSON or fields with 400."""

from __future__ import annotations

import zlib
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, BackgroundTasks, Depends, Path, Request, Response
from pydantic import BaseModel, Field, StringConstraints, ValidationError
from starlette.concurrency import run_in_threadpool

from greenline import views
from greenline.api import Greenline
from greenline.api.uploads import KEY_PATTERN
from greenline.errors import UsageError
from greenline.ids import MAX_TEST_ID_CHARS
from greenline.model import Block, CommitInfo, Environment, Outcome, Phase, RunStatus, TestResult
from greenline.web import bodies
from greenline.web.bodies import TooLargeError
from greenline.web.deps import Api, require

#: the largest body a request may send, as sent (compressed or not)
MAX_BODY = 16 << 20
#: the largest JSON document a body may hold once inflated
MAX_JSON = 64 << 20
#: the most results one batch may carry
MAX_BATCH_RESULTS = 20_000

router = APIRouter(tags=["uploads"], dependencies=[Depends(require("write"))])

Text = Annotated[str, StringConstraints(max_length=65_536)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=255)]
Key = Annotated[str, Path(pattern=KEY_PATTERN, description="The client's key for the run.")]


class CommitIn(BaseModel):
    sha: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{40}([0-9a-f]{24})?$")] | None = None
    branch: Name | None = None
    dirty: bool = False
    committed_at: datetime | None = None
    subject: Text | None = None


class EnvironmentIn(BaseModel):
    python: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    platform: Name
    packages_hash: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class UploadStart(BaseModel):
    """Start the run of an upload: the commit and environment the tests ran on."""

    key: Annotated[str, StringConstraints(pattern=KEY_PATTERN)]
    source: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,15}$")] = "pytest"
    commit: CommitIn = CommitIn()
    environment: EnvironmentIn | None = None
    args: Text | None = None
    hostname: Name | None = None
    pid: Annotated[int, Field(ge=0, le=2**31 - 1)] | None = None
    started_at: datetime | None = None


class ResultIn(BaseModel):
    """One attempt of one test: the shape runs' results are read back in."""

    test_id: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEST_ID_CHARS)]
    outcome: Outcome
    duration: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0
    phase: Phase | None = None
    message: Text | None = None
    attempt: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    path: Text | None = None


Checksum = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class BatchIn(BaseModel):
    """Results, and for each test the code blocks it ran (indexes into ``blocks``, each block
    ``[path, qualified name, checksum]``) and the non-Python files it read; ``import_time``:
    for each project module imported before the first test, the blocks that ran meanwhile."""

    results: Annotated[list[ResultIn], Field(max_length=MAX_BATCH_RESULTS)]
    blocks: list[tuple[Text, Text, Checksum]] = []
    coverage: dict[str, list[Annotated[int, Field(ge=0)]]] = {}
    file_reads: dict[str, list[Text]] = {}
    import_time: dict[str, list[Annotated[int, Field(ge=0)]]] = {}


class FinishIn(BaseModel):
    """End the run: ``complete`` when the session ran to its end and ``batches`` (the count
    sent) were all acknowledged."""

    exit_status: Annotated[int, Field(ge=-(2**31), le=2**31 - 1)] | None = None
    complete: bool
    batches: Annotated[int, Field(ge=0, le=10_000_000)] | None = None


class EncodingError(UsageError):
    """A body in an encoding other than gzip or none."""

    http_status = 415


Model = TypeVar("Model", bound=BaseModel)


def _body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI request body of ``model`` (its nested models inlined)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    body = {"content": {"application/json": {"schema": inline(schema)}}, "required": True}
    return {"requestBody": body}


async def read_body(request: Request) -> bytes:
    """The raw body, at most MAX_BODY bytes as sent (the rest is never read)."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", "gzip", ""):
        raise EncodingError(
            f"Content-Encoding {encoding[:40]!r} is not accepted", hint="send gzip, or no encoding"
        )
    return await bodies.read_body(request, MAX_BODY, "body")


def _too_large(what: str) -> TooLargeError:
    return TooLargeError(
        f"{what} over the limit of {MAX_BODY >> 20} MiB as sent and {MAX_JSON >> 20} MiB "
        "as JSON; nothing was stored",
        hint="send smaller batches",
    )


def inflate(raw: bytes, gzipped: bool) -> bytes:
    """The JSON text of a body: gunzipped when ``gzipped``, never past MAX_JSON bytes (a gzip
    bomb stops at the limit instead of filling memory)."""
    if not gzipped:
        if len(raw) > MAX_JSON:
            raise _too_large("the JSON is")
        return raw
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    parts: list[bytes] = []
    size = 0
    data = raw
    try:
        while data:
            piece = inflater.decompress(data, MAX_JSON - size + 1)
            size += len(piece)
            if size > MAX_JSON:
                raise _too_large("the body inflates to")
            parts.append(piece)
            data = inflater.unconsumed_tail
        if not inflater.eof:
            raise UsageError("the gzip body is cut short", hint="send the whole compressed body")
    except zlib.error as exc:
        raise UsageError(
            f"the body is not valid gzip ({exc})", hint="compress it with gzip, or send plain JSON"
        ) from None
    return b"".join(parts)


def parse(model: type[Model], raw: bytes, gzipped: bool) -> Model:
    """The body as ``model``; a UsageError (400) naming the first bad field or the JSON error."""
    try:
        return model.model_validate_json(inflate(raw, gzipped))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = f"body.{where}: {first['msg']}" if where else f"body: {first['msg']}"
        raise UsageError(message[:500], hint="see /api/v1/docs for the upload's fields") from None


def _is_gzipped(request: Request) -> bool:
    return request.headers.get("content-encoding", "").strip().lower() == "gzip"


@router.post("/uploads", status_code=201, openapi_extra=_body_schema(UploadStart))
async def start_upload(request: Request, response: Response, gl: Api) -> dict[str, Any]:
    """Start the run of an upload (201), or find the one this key started before (200)."""
    raw = await read_body(request)

    def start() -> dict[str, Any]:
        body = parse(UploadStart, raw, _is_gzipped(request))
        commit = CommitInfo(**body.commit.model_dump())
        env = Environment(**body.environment.model_dump()) if body.environment else None
        upload = gl.uploads.start(
            body.key,
            commit=commit,
            environment=env,
            source=body.source,
            args=body.args,
            hostname=body.hostname,
            pid=body.pid,
            started_at=body.started_at,
        )
        return views.upload_document(upload)

    doc = await run_in_threadpool(start)
    response.status_code = 201 if doc["created"] else 200
    return doc


@router.get("/uploads/{key}")
def get_upload(key: Key, gl: Api) -> dict[str, Any]:
    """The upload's run, its status, and the batches stored so far."""
    return views.upload_document(gl.uploads.get(key))


@router.post("/uploads/{key}/batches/{seq}", status_code=201, openapi_extra=_body_schema(BatchIn))
async def add_batch(
    key: Key,
    request: Request,
    response: Response,
    gl: Api,
    seq: Annotated[int, Path(ge=1, le=10_000_000, description="1, 2, … per upload.")],
) -> dict[str, Any]:
    """Store one batch (201); a batch stored before is acknowledged (200, ``duplicate``)."""
    raw = await read_body(request)

    def store() -> dict[str, Any]:
        body = parse(BatchIn, raw, _is_gzipped(request))
        blocks = [Block(path, name, checksum) for path, name, checksum in body.blocks]
        receipt = gl.uploads.add_batch(
            key,
            seq,
            [
                TestResult(r.test_id, r.outcome, r.duration, r.phase, r.message, r.attempt, r.path)
                for r in body.results
            ],
            _pointed(blocks, body.coverage, "coverage"),
            body.file_reads,
            _pointed(blocks, body.import_time, "import_time"),
        )
        return views.batch_receipt_document(receipt)

    doc = await run_in_threadpool(store)
    response.status_code = 200 if doc["duplicate"] else 201
    return doc


def _pointed(
    blocks: list[Block], indexes: dict[str, list[int]], field: str
) -> dict[str, list[Block]]:
    """Each entry's blocks, from its indexes into the batch's blocks."""
    out: dict[str, list[Block]] = {}
    for name, where in indexes.items():
        if any(i >= len(blocks) for i in where):
            raise UsageError(
                f"body.{field}.{name[:200]}: a block index past the {len(blocks)} blocks",
                hint="each index points into the batch's blocks",
            )
        out[name] = [blocks[i] for i in where]
    return out


@router.post("/uploads/{key}/finish", openapi_extra=_body_schema(FinishIn))
async def finish_upload(
    key: Key, request: Request, gl: Api, background: BackgroundTasks
) -> dict[str, Any]:
    """End the run; complete only if every batch up to ``batches`` was stored (409 names the
    first missing one). Finishing again changes nothing."""
    raw = await read_body(request)

    def finish() -> dict[str, Any]:
        body = parse(FinishIn, raw, _is_gzipped(request))
        run = gl.uploads.finish(key, body.exit_status, complete=body.complete, batches=body.batches)
        return views.run_document(run, None)

    doc = await run_in_threadpool(finish)
    if doc["run"]["status"] == RunStatus.COMPLETE.value:
        background.add_task(_after_complete_run, gl)
    return doc


def _after_complete_run(gl: Greenline) -> None:
    """What a local recording does once a run is complete: learn the ranking when the history
    grew, release quarantined tests that recovered. A bonus: no trouble of it reaches the
    client, which has its answer already."""
    for step in (
        lambda: gl.selection.learn_ranking(only_if_grown=0.25),
        gl.flaky.release_recovered,
    ):
        try:
            step()
        except Exception:  # the run is stored; this is only learning
            continue
