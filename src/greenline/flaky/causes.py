"""A first guess at why a test flakes, from what its failures say (experiments confirm it).

Each category has patterns that its failures typically print: a network error's exception names,
float noise's long decimals, a time-dependent test's dates. The guess is the category whose
patterns match most of the failure messages; ``unknown`` when none do.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

from greenline.model import Evidence, EvidenceKind, FlakyCategory

PATTERNS: dict[FlakyCategory, re.Pattern[str]] = {
    # a duration compared with a threshold: pytest shows the timer calls it evaluated
    FlakyCategory.TIMING: re.compile(
        r"perf_counter|monotonic|process_time|\belapsed\b|took too long|too slow", re.IGNORECASE
    ),
    FlakyCategory.NETWORK: re.compile(
        r"ConnectionError|ConnectionRefused|ConnectTimeout|ReadTimeout|socket\.|gaierror|"
        r"Name or service not known|Temporary failure in name resolution|URLError|"
        r"HTTPError|SSLError|Max retries exceeded",
        re.IGNORECASE,
    ),
    # float noise: a long run of 0s or 9s, or more digits than a decimal literal would have
    FlakyCategory.FLOATING_POINT: re.compile(
        r"\d\.\d*(?:0{6,}|9{6,})\d+|\d\.\d{15,}|approx|isclose"
    ),
    FlakyCategory.TIME: re.compile(
        r"datetime|timedelta|timezone|tzinfo|\bdate\(|freezegun|strftime|"
        r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}"
    ),
    FlakyCategory.CONCURRENCY: re.compile(
        r"\bthreads?\b|threading|\brace\b|deadlock|\bLock\b|multiprocessing|concurrent\.futures",
        re.IGNORECASE,
    ),
    FlakyCategory.ASYNC_WAIT: re.compile(
        r"asyncio|TimeoutError|timed out|wait_for|did not complete|Event loop", re.IGNORECASE
    ),
    FlakyCategory.RANDOMNESS: re.compile(r"\brandom\b|randint|shuffle|uuid|secrets\.", re.I),
    FlakyCategory.UNORDERED_COLLECTION: re.compile(
        r"\bset\(|frozenset|\{'[^']*', '|dict_keys|ordering|order differs", re.IGNORECASE
    ),
    FlakyCategory.RESOURCE_LEAK: re.compile(
        r"ResourceWarning|Too many open files|unclosed|leak", re.IGNORECASE
    ),
    FlakyCategory.IO: re.compile(
        r"FileNotFoundError|FileExistsError|PermissionError|No such file|IsADirectoryError|"
        r"OSError|BlockingIOError"
    ),
    FlakyCategory.PLATFORM: re.compile(r"sys\.platform|platform\.|os\.name|win32|darwin"),
}


def guess_category(messages: Iterable[str]) -> tuple[FlakyCategory, int]:
    """The category most failure messages point to, and how many of them do."""
    votes: Counter[FlakyCategory] = Counter()
    for message in messages:
        for category, pattern in PATTERNS.items():
            if pattern.search(message):
                votes[category] += 1
                break  # the first (most specific) category a message matches
    if not votes:
        return FlakyCategory.UNKNOWN, 0
    category, count = votes.most_common(1)[0]
    return category, count


#: what a probe run saw the test touch -> the cause it points to, most telling first
TOUCHED = {
    "network": FlakyCategory.NETWORK,
    "async": FlakyCategory.ASYNC_WAIT,
    "threads": FlakyCategory.CONCURRENCY,
    "timer": FlakyCategory.TIMING,
    "clock": FlakyCategory.TIME,
    "files": FlakyCategory.IO,
}
WHAT = {
    "network": "used the network",
    "async": "waited on asyncio",
    "threads": "started threads",
    "timer": "measured elapsed time",
    "clock": "read the wall clock",
    "files": "opened files outside its temporary directory",
}


def with_observations(
    guess: FlakyCategory, touched: dict[str, list[str]]
) -> tuple[FlakyCategory, str | None]:
    """The cause once what the test touched is known: the failure messages' guess when the test
    did touch what it names; else the most telling thing it touched; else the guess. Also a
    sentence on what it touched (None when nothing telling)."""
    seen = [key for key in TOUCHED if touched.get(key)]
    if not seen:
        return guess, None
    detail = "alone it " + "; ".join(f"{WHAT[key]} ({', '.join(touched[key][:2])})" for key in seen)
    pointed = {TOUCHED[key] for key in seen}
    if guess in pointed:
        return guess, detail
    if guess in (FlakyCategory.UNKNOWN, *TOUCHED.values()):
        return TOUCHED[seen[0]], detail
    return guess, detail  # e.g. float noise in a test that also reads the clock


#: How much of a failure message a verdict quotes: its first line, cut to this length.
MESSAGE_CHARS = 200


def failing_evidence(
    detail: str, run_ids: tuple[int, ...], messages: Sequence[str]
) -> tuple[Evidence, ...]:
    """The evidence of a ``failing`` verdict: that it failed every time (``detail``, in which
    runs), and what the newest failure said (``messages``, newest first)."""
    evidence = [Evidence(EvidenceKind.ALWAYS_FAILED, detail, run_ids)]
    said = next((_gist(m) for m in messages if m.strip()), None)
    if said:
        evidence.append(Evidence(EvidenceKind.FAILURE_MESSAGE, f"it said: {said[:MESSAGE_CHARS]}"))
    return tuple(evidence)


def _gist(message: str) -> str:
    """What a failure said, in one line: a pytest report's first ``E`` line (its traceback
    shows the source first), else the message's first line."""
    lines = [line for line in message.splitlines() if line.strip()]
    errors = [line[1:].strip() for line in lines if line.startswith("E ")]
    return (errors or lines)[0].strip()
