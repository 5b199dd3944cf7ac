"""Streaming reader for JUnit XML in its common dialects, refusing hostile XML.

Handles pytest (xunit1/xunit2), Ant/Jenkins, Maven Surefire (with ``flakyFailure``/``flakyError``
for earlier failed attempts of a test that passed, and ``rerunFailure``/``rerunError`` for failed
reruns) and nested ``<testsuites>``/``<testsuite>``. The file is fed to a SAX parser in chunks and
only the first few KiB of any failure text is kept, so memory stays flat however large the file
or its captured output. DTDs, entity declarations and external references are refused.
"""

from __future__ import annotations

import math
import re
import xml.sax
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import defusedxml
from defusedxml.expatreader import DefusedExpatParser

from greenline.errors import InputError
from greenline.ids import SEPARATOR, clip_message, make_junit_test_id, test_id_problem
from greenline.model import Outcome, Phase, TestResult

CHUNK_BYTES = 1 << 20
MESSAGE_CHARS = 2000
#: The longest stretch of input with nothing for the reader (one tag with a huge attribute, a
#: huge comment): expat holds such a token whole, so a 200 MB attribute would cost a gigabyte.
MAX_TOKEN_BYTES = 16 << 20
FAILURE_TAGS = {"failure": Outcome.FAILED, "error": Outcome.ERROR}
EARLIER_ATTEMPT_TAGS = {"flakyFailure": Outcome.FAILED, "flakyError": Outcome.ERROR}
RERUN_TAGS = {"rerunFailure": Outcome.FAILED, "rerunError": Outcome.ERROR}
OUTCOME_TAGS = {**FAILURE_TAGS, **EARLIER_ATTEMPT_TAGS, **RERUN_TAGS, "skipped": Outcome.SKIPPED}


@dataclass
class _Mark:
    """A failure/error/skipped/flaky child of a testcase."""

    tag: str
    message: str
    kind: str
    text: list[str] = field(default_factory=list)
    size: int = 0

    def summary(self) -> str | None:
        if self.message.strip():
            return clip_message(self.message.strip(), MESSAGE_CHARS)
        text = "".join(self.text).strip()
        return clip_message(text.splitlines()[0], MESSAGE_CHARS) if text else None


class _RefusedError(ValueError):
    """Input the reader will not store; JUnitReader names the file and line."""


@dataclass
class _Case:
    test_id: str
    duration: float
    path: str | None
    marks: list[_Mark] = field(default_factory=list)


def _phase_of(mark: _Mark) -> Phase:
    message = mark.message.lower()
    for phase in (Phase.SETUP, Phase.TEARDOWN):
        if f"on {phase.value}" in message:
            return phase
    return Phase.CALL


def _final_outcome(marks: list[_Mark]) -> tuple[Outcome, _Mark | None]:
    for mark in marks:
        if mark.tag in FAILURE_TAGS:
            return FAILURE_TAGS[mark.tag], mark
    for mark in marks:
        if mark.tag == "skipped":
            xfail = "xfail" in mark.kind.lower()
            return (Outcome.XFAILED if xfail else Outcome.SKIPPED), mark
    return Outcome.PASSED, None


def results_of_case(case: _Case) -> list[TestResult]:
    """One result per attempt: Surefire's flaky attempts first, then the final outcome, then
    failed reruns."""
    out: list[TestResult] = []

    def add(outcome: Outcome, mark: _Mark | None, duration: float = 0.0) -> None:
        failed = outcome.is_failure and mark is not None
        out.append(
            TestResult(
                test_id=case.test_id,
                outcome=outcome,
                duration=duration,
                phase=_phase_of(mark) if failed and mark else None,
                message=mark.summary() if mark else None,
                attempt=len(out) + 1,
                path=case.path,
            )
        )

    for mark in case.marks:
        if mark.tag in EARLIER_ATTEMPT_TAGS:
            add(EARLIER_ATTEMPT_TAGS[mark.tag], mark)
    outcome, final_mark = _final_outcome(case.marks)
    add(outcome, final_mark, case.duration)
    for mark in case.marks:
        if mark.tag in RERUN_TAGS:
            add(RERUN_TAGS[mark.tag], mark)
    return out


def _parse_time(value: str | None) -> float:
    try:
        seconds = float((value or "0").replace(",", ""))
    except ValueError:
        return 0.0  # unparsable: unknown, as when there is no time at all
    if not math.isfinite(seconds):
        # JSON has no inf or nan, and a mean over them is meaningless: refused, not guessed
        raise _RefusedError(
            f'time="{value[:40] if value else value}" is not a finite number of seconds'
        )
    return max(seconds, 0.0)


class ModuleFinder:
    """Maps JUnit ``classname`` values to pytest node ids where the module is a file under
    ``root``, so an imported pytest report joins the history ``--greenline-record`` keeps:
    ``tests.test_funcs.TestAsDict`` + ``test_dicts`` is
    ``tests/test_funcs.py::TestAsDict::test_dicts``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._files: dict[str, bool] = {}

    def _is_file(self, relative: str) -> bool:
        if relative not in self._files:
            self._files[relative] = (self.root / relative).is_file()
        return self._files[relative]

    def locate(self, classname: str, name: str) -> tuple[str, str] | None:
        """(pytest node id, module path) for the longest dotted prefix that is a file."""
        parts = classname.strip().split(".")
        # dotted identifiers only: the parts become a path, and must stay under root
        if not all(part.isidentifier() for part in parts):
            return None
        for cut in range(len(parts), 0, -1):
            module = "/".join(parts[:cut]) + ".py"
            if self._is_file(module):
                return SEPARATOR.join([module, *parts[cut:], name.strip()]), module
        return None


def _parse_timestamp(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        stamp = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


class _Handler(xml.sax.handler.ContentHandler):
    def __init__(self, finder: ModuleFinder | None) -> None:
        super().__init__()
        self.finder = finder
        self.events = 0  # the reader's sign of progress, against tokens that never end
        self.ready: deque[TestResult] = deque()
        self.suites: list[str] = []
        self.case: _Case | None = None
        self.mark: _Mark | None = None
        self.started_at: datetime | None = None
        self.saw_root = False

    def startElement(  # noqa: N802 (SAX API)
        self, name: str, attrs: xml.sax.xmlreader.AttributesImpl
    ) -> None:
        self.events += 1
        if not self.saw_root:
            self.saw_root = True
            if name not in ("testsuites", "testsuite"):
                raise InputError(
                    f"root element is <{name}>, not <testsuites> or <testsuite>",
                    hint="pass a JUnit XML report (pytest --junitxml=FILE writes one)",
                )
        if name == "testsuite":
            self.suites.append(attrs.get("name", ""))
            self.started_at = self.started_at or _parse_timestamp(attrs.get("timestamp"))
        elif name == "testcase":
            self.case = self._start_case(attrs)
        elif self.case is not None and name in OUTCOME_TAGS:
            self.mark = _Mark(name, attrs.get("message", ""), attrs.get("type", ""))
            self.case.marks.append(self.mark)

    def _start_case(self, attrs: xml.sax.xmlreader.AttributesImpl) -> _Case:
        classname = attrs.get("classname") or (self.suites[-1] if self.suites else "")
        name = attrs.get("name", "")
        found = self.finder.locate(classname, name) if self.finder and classname else None
        test_id, path = found or (make_junit_test_id(classname, name), attrs.get("file"))
        problem = test_id_problem(test_id)
        if problem:
            raise _RefusedError(problem)
        return _Case(test_id, _parse_time(attrs.get("time")), path)

    def characters(self, content: str) -> None:
        self.events += 1
        mark = self.mark
        if mark is not None and mark.size < MESSAGE_CHARS:
            mark.text.append(content)
            mark.size += len(content)

    def endElement(self, name: str) -> None:  # noqa: N802 (SAX API)
        self.events += 1
        if name == "testsuite" and self.suites:
            self.suites.pop()
        elif name == "testcase" and self.case is not None:
            self.ready.extend(results_of_case(self.case))
            self.case = None
        elif name in OUTCOME_TAGS:
            self.mark = None


class JUnitReader:
    """Iterates the results of one JUnit XML file; ``started_at`` is the first suite's stamp.

    With ``root`` (the repository), ids of tests in Python modules under it become pytest node
    ids; other ids stay ``classname::name``."""

    def __init__(self, path: Path, root: Path | None = None) -> None:
        self.path = path
        self._handler = _Handler(ModuleFinder(root) if root is not None else None)

    @property
    def started_at(self) -> datetime | None:
        return self._handler.started_at

    def __iter__(self) -> Iterator[TestResult]:
        parser = DefusedExpatParser(forbid_dtd=True, forbid_entities=True, forbid_external=True)
        parser.setContentHandler(self._handler)
        try:
            with self.path.open("rb") as stream:
                yield from self._feed(parser, stream)
        except _RefusedError as exc:
            line = parser.getLineNumber()  # the parser is the locator when it is fed
            raise InputError(
                f"{self.path}:{line}: refused: {exc}",
                hint="fix or regenerate the report; nothing from it was stored",
            ) from None
        except OSError as exc:
            raise InputError(
                f"{self.path}: cannot read: {exc.strerror}", hint="check the path"
            ) from None
        except xml.sax.SAXParseException as exc:
            raise InputError(
                f"{self.path}:{exc.getLineNumber()}:{exc.getColumnNumber()}: malformed XML: "
                f"{exc.getMessage()}",
                hint="fix or regenerate the report; nothing from it was stored",
            ) from None
        except defusedxml.DefusedXmlException as exc:
            raise InputError(
                f"{self.path}: refused: it declares a DTD or entities ({type(exc).__name__}); "
                "JUnit reports never need them, and they can exhaust memory or read local files",
                hint="regenerate the report without a DOCTYPE; nothing from it was stored",
            ) from None
        if not self._handler.saw_root:
            raise InputError(f"{self.path}: empty file", hint="pass a JUnit XML report")
        yield from self._drain()

    def _feed(self, parser: DefusedExpatParser, stream: BinaryIO) -> Iterator[TestResult]:
        quiet = 0  # bytes fed since the handler last saw anything
        while chunk := stream.read(CHUNK_BYTES):
            events = self._handler.events
            parser.feed(chunk)
            quiet = quiet + len(chunk) if self._handler.events == events else 0
            if quiet > MAX_TOKEN_BYTES:
                raise _RefusedError(
                    f"more than {MAX_TOKEN_BYTES} bytes without a tag ending (one attribute "
                    "or comment that large); JUnit reports never need one"
                )
            yield from self._drain()
        parser.close()

    def _drain(self) -> Iterator[TestResult]:
        ready = self._handler.ready
        while ready:
            yield ready.popleft()


_PROLOG = re.compile(rb"^(\xef\xbb\xbf)?\s*(<\?xml[^>]*\?>)?", re.ASCII)


def combine_reports(paths: list[Path]) -> bytes:
    """Several JUnit XML reports of one run as one document (each one's root element nested
    in a ``<testsuites>``): what a server that takes one report per upload is sent. Each
    report's XML declaration goes; UTF-8 (JUnit's usual encoding) is assumed."""
    if len(paths) == 1:
        return paths[0].read_bytes()
    parts = [_PROLOG.sub(b"", path.read_bytes(), count=1) for path in paths]
    return (
        b'<?xml version="1.0" encoding="utf-8"?>\n<testsuites>'
        + b"\n".join(parts)
        + (b"</testsuites>\n")
    )
