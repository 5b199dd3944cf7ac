"""What greenline says on the code host and hears from it: check runs (with their annotations)
published on a commit, and webhook deliveries received from GitHub."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class AnnotationLevel(enum.StrEnum):
    """How loudly a check run marks a line (GitHub's ``annotation_level``)."""

    NOTICE = "notice"
    WARNING = "warning"
    FAILURE = "failure"


@dataclass(frozen=True, slots=True)
class Annotation:
    """A note on lines of a file at the check run's commit."""

    path: str
    start_line: int
    end_line: int
    level: AnnotationLevel
    message: str
    title: str = ""
    raw_details: str = ""


class CheckConclusion(enum.StrEnum):
    """How a completed check run ended (the subset of GitHub's conclusions greenline gives)."""

    SUCCESS = "success"
    NEUTRAL = "neutral"
    FAILURE = "failure"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class CheckReport:
    """A completed check run as greenline means it: its name on the commit, the verdict, and
    the markdown a reviewer reads (``summary`` first, the details in ``text``)."""

    name: str
    head_sha: str
    conclusion: CheckConclusion
    title: str
    summary: str
    text: str = ""
    annotations: tuple[Annotation, ...] = ()
    #: greenline's own reference for the run (shown to nobody; GitHub returns it as is)
    external_id: str = ""
    details_url: str | None = None


@dataclass(frozen=True, slots=True)
class PublishedCheck:
    """A check run on the code host, and the requests its publication took."""

    id: int
    html_url: str | None
    requests: tuple[dict[str, object], ...] = ()


class DeliveryStatus(enum.StrEnum):
    """What became of a webhook delivery when it arrived."""

    QUEUED = "queued"  # stored, to be processed in the background
    DUPLICATE = "duplicate"  # its delivery id was received before: not processed again
    IGNORED = "ignored"  # an event greenline does not use, or a repository it does not know


@dataclass(frozen=True, slots=True)
class DeliveryReceipt:
    """The answer to one webhook delivery."""

    delivery_id: str
    event: str
    status: DeliveryStatus
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Delivery:
    """A webhook delivery kept in the store: what it was, and what processing it did."""

    delivery_id: str
    event: str
    action: str | None
    repository: str | None
    received_at: datetime
    processed_at: datetime | None = None
    outcome: str | None = None
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """A delivery's parsed body, as the handlers of an event get it."""

    delivery_id: str
    event: str
    action: str | None
    repository: str
    payload: dict[str, object] = field(default_factory=dict)
