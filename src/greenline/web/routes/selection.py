"""``POST /api/v1/select``: the tests a CI job's change can break, with their reasons (the
document of ``greenline select --format json``), from a base commit and the change as a diff or
as the paths it touches."""

from __future__ import annotations

import hashlib
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator
from starlette.concurrency import run_in_threadpool

from greenline import views
from greenline.model import Environment
from greenline.selection import make_budget
from greenline.web.bodies import read_body
from greenline.web.deps import Api, require
from greenline.web.read_cache import answer

router = APIRouter(tags=["selection"], dependencies=[Depends(require("read"))])
#: the largest request a plan is asked with (a diff of a large change fits many times)
MAX_REQUEST = 16 << 20


def _relative(path: str) -> str:
    parts = path.split("/")
    if path.startswith("/") or ".." in parts or any(c in path for c in "\x00\n\r"):
        raise ValueError(f"{path[:80]!r} is not a path inside the repository (like src/app.py)")
    return path


RepoPath = Annotated[str, Field(min_length=1, max_length=4096), AfterValidator(_relative)]
Label = Annotated[str, Field(min_length=1, max_length=512)]


class EnvironmentBody(BaseModel):
    """What the job's tests run on, as a run's ``environment``: a different one than the
    baseline's runs everything, as ``greenline select`` does."""

    model_config = ConfigDict(extra="forbid")
    python: Label
    platform: Label
    packages_hash: Label


class SelectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    base: str = Field(
        min_length=1,
        max_length=256,
        description="The commit the change is made on (a sha, branch or tag the server's "
        "repository knows); the baseline is the newest recorded at it or an ancestor.",
    )
    diff: str | None = Field(
        None, description="The change as a unified diff against base (git diff BASE)."
    )
    changed_files: list[RepoPath] | None = Field(
        None,
        max_length=100_000,
        description="Or the paths the change touches, relative to the repository: their new "
        "content is not known, so every block the baseline ran in them counts as changed.",
    )
    budget: str | None = Field(
        None, max_length=32, description="Keep what fits: 10% (of the suite's time), 90s, 2m."
    )
    confidence: str | None = Field(
        None,
        max_length=32,
        description="Keep tests until they hold this share of the estimated failures: 0.99 or 99%.",
    )
    environment: EnvironmentBody | None = None

    @model_validator(mode="after")
    def _one_change(self) -> SelectRequest:
        if self.diff is not None and self.changed_files is not None:
            raise ValueError("give the change as diff or as changed_files, not both")
        return self


def _inline(schema: Any, defs: dict[str, Any]) -> Any:
    """A JSON schema with its local ``$ref``s replaced by what they name (the OpenAPI document
    has no ``$defs`` of its own)."""
    if isinstance(schema, dict):
        ref = schema.get("$ref", "")
        if ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [_inline(v, defs) for v in schema]
    return schema


_SCHEMA = SelectRequest.model_json_schema()
BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": _inline(_SCHEMA, _SCHEMA.get("$defs", {}))}},
    }
}


def parse_request(raw: bytes) -> SelectRequest:
    try:
        return SelectRequest.model_validate_json(raw)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        raise RequestValidationError(errors) from None


@router.post("/select", openapi_extra=BODY, response_model=dict[str, Any])
async def select(request: Request, gl: Api) -> Any:
    """The plan for the change: the tests it can break, most likely to fail first, each with
    its reasons, against the newest baseline at ``base`` or one of its ancestors. Nothing in
    the server's repository is written."""
    raw = await read_body(request, MAX_REQUEST, "request")
    body = parse_request(raw)
    budget = make_budget(body.budget, body.confidence, prefix="")
    env = body.environment

    def document() -> dict[str, Any]:
        plan = gl.selection.plan_change(
            body.base,
            diff=body.diff,
            changed_files=body.changed_files or (),
            environment=Environment(env.python, env.platform, env.packages_hash) if env else None,
            budget=budget,
        )
        return views.selection_document(plan)

    if FULL_SHA.fullmatch(body.base):
        # a commit, not a name that can move: the plan of the same request is the same while
        # the store is (the shards and retries of one CI job ask it again)
        return await answer(gl, request, ("select", hashlib.sha256(raw).digest()), document)
    return await run_in_threadpool(document)


FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
