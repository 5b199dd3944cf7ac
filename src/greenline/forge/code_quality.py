"""GitHub's code-quality findings, from saved response files or fetched live: the Code Quality
findings API (``GET /repos/OWNER/REPO/code-quality/findings``: ``rule``, ``location``,
``message``) and, from files, code scanning alerts (``GET /repos/OWNER/REPO/code-scanning/
alerts``, whose location is in ``most_recent_instance``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from greenline.errors import InputError
from greenline.forge.github import GitHubClient
from greenline.forge.payloads import (
    RecordError,
    integer,
    load_json,
    optional,
    optional_text,
    read_records,
    text,
    timestamp,
)
from greenline.model.delivery import IngestProblem
from greenline.model.review import CodeFinding

QUALITY = "github-code-quality"
SCANNING = "github-code-scanning"
FINDINGS_URL = "/repos/{repository}/code-quality/findings"
#: the longest message kept (a finding's message is prose; the rest is in GitHub)
MAX_MESSAGE = 4000


def check_repository(repository: str) -> str:
    parts = repository.split("/")
    if len(parts) != 2 or not all(parts) or any(c.isspace() for c in repository):
        raise InputError(f"{repository!r} is not OWNER/REPO", hint="e.g. octo-org/octo-repo")
    return repository


class CodeQualityClient(GitHubClient):
    """GitHub's REST API, asked for code-quality findings."""

    token_hint = (
        "set GREENLINE_GITHUB_TOKEN to a token with the repository permission "
        '"Code quality" (read), or the repo scope for a classic token'
    )


def _number(record: dict[str, Any]) -> int:
    number = integer(record, "number", default=0)
    if not number:
        raise RecordError("number is missing")
    return number


def _line(record: dict[str, Any], *path: str) -> int | None:
    return integer(record, *path, default=0, low=0) or None


def _relative(path: str) -> str:
    """A repository path as greenline keeps them: forward slashes, no leading ``./`` or ``/``."""
    cleaned = path.replace("\\", "/").lstrip("/")
    while cleaned.startswith("./"):
        cleaned = cleaned[2:]
    if not cleaned or ".." in cleaned.split("/"):
        raise RecordError(f"location.path {path!r} is not a path inside the repository")
    return cleaned


def read_finding(record: dict[str, Any], repository: str) -> CodeFinding:
    """One finding (Code Quality) or alert (code scanning)."""
    if "most_recent_instance" in record:
        return _read_alert(record, repository)
    rule_id = text(record, "rule", "id")
    return CodeFinding(
        provider=QUALITY,
        repository=repository,
        number=_number(record),
        state=text(record, "state"),
        rule_id=rule_id,
        rule_title=optional_text(record, "rule", "title") or rule_id,
        severity=optional_text(record, "rule", "severity") or "none",
        category=optional_text(record, "rule", "category") or "none",
        path=_relative(text(record, "location", "path")),
        start_line=_line(record, "location", "start_line"),
        end_line=_line(record, "location", "end_line"),
        message=(optional_text(record, "message", "text") or "")[:MAX_MESSAGE],
        url=optional_text(record, "html_url") or optional_text(record, "url"),
        created_at=timestamp(record, "created_at", required=False),
    )


def _read_alert(record: dict[str, Any], repository: str) -> CodeFinding:
    instance = ("most_recent_instance",)
    rule_id = text(record, "rule", "id")
    tags = optional(record, "rule", "tags")
    category = (
        next(
            (t for t in tags if isinstance(t, str) and t in ("maintainability", "reliability")),
            "none",
        )
        if isinstance(tags, list)
        else "none"
    )
    return CodeFinding(
        provider=SCANNING,
        repository=repository,
        number=_number(record),
        state=text(record, "state"),
        rule_id=rule_id,
        rule_title=optional_text(record, "rule", "name")
        or optional_text(record, "rule", "description")
        or rule_id,
        severity=optional_text(record, "rule", "severity") or "none",
        category=category,
        path=_relative(text(record, *instance, "location", "path")),
        start_line=_line(record, *instance, "location", "start_line"),
        end_line=_line(record, *instance, "location", "end_line"),
        message=(optional_text(record, *instance, "message", "text") or "")[:MAX_MESSAGE],
        url=optional_text(record, "html_url") or optional_text(record, "url"),
        created_at=timestamp(record, "created_at", required=False),
    )


def read_page(
    doc: Any, location: str, repository: str, problems: list[IngestProblem]
) -> list[CodeFinding]:
    """One response: a list of findings or alerts (as the API answers), or one of them."""
    if isinstance(doc, dict) and ("rule" in doc or "number" in doc):
        doc = [doc]
    if not isinstance(doc, list):
        raise InputError(
            f"{location}: not a list of code-quality findings",
            hint="save the body of GET /repos/OWNER/REPO/code-quality/findings (a JSON list)",
        )
    return read_records(doc, location, lambda r: read_finding(r, repository), problems)


def read_files(paths: list[Path], repository: str) -> tuple[list[CodeFinding], list[IngestProblem]]:
    problems: list[IngestProblem] = []
    findings: list[CodeFinding] = []
    for path in paths:
        findings += read_page(load_json(path), path.name, repository, problems)
    return findings, problems


def fetch(
    client: CodeQualityClient,
    repository: str,
    *,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[CodeFinding], list[IngestProblem]]:
    """Every finding of the repository (open and dismissed), page by page (Link header)."""
    url = FINDINGS_URL.format(repository=check_repository(repository))
    problems: list[IngestProblem] = []
    findings: list[CodeFinding] = []
    for page, doc in enumerate(client.pages(url, {"per_page": "100"})):
        findings += read_page(doc, f"{repository} findings page {page + 1}", repository, problems)
        if progress:
            progress(len(findings))
    return findings, problems
