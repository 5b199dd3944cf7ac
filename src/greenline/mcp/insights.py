"""Delivery-insights tools: the full metrics and a short health digest."""

from __future__ import annotations

from typing import Any

from mcp.server import MCPServer

from greenline.api import Greenline
from greenline.api.insights import parse_time
from greenline.insights.summary import health
from greenline.mcp.bounds import Answer, answer
from greenline.mcp.calls import Opener, call, scoped


def register(server: MCPServer, open_api: Opener) -> None:
    def metrics(
        since: str | None, until: str | None, days: int, repository: str | None
    ) -> dict[str, Any]:
        def read(gl: Greenline) -> dict[str, Any]:
            return gl.insights.metrics(
                since=parse_time(since, "since"),
                until=parse_time(until, "until"),
                days=days,
                repository=repository,
            )

        result: dict[str, Any] = call(open_api, read)
        return result

    @server.tool(
        name="delivery_metrics", title="Delivery metrics against the benchmarks", **scoped("read")
    )
    def delivery_metrics(
        since: str | None = None,
        until: str | None = None,
        days: int = 30,
        repository: str | None = None,
    ) -> Answer:
        """CI delivery metrics from the ingested workflow runs (greenline insights): throughput,
        duration P50/P95, success rate (cancelled runs aside) and time to recovery, per branch
        class (default branch vs others) and workflow, with the previous window, the year
        before, weekly trends, the slowest and most failing workflows and jobs, compared with
        the recommended benchmarks (90% success on main, recovery under 60 min, duration at most
        10 min) and the 2026 industry medians. Window: since/until as ISO dates, or the last
        `days` days of the data. Same document as `greenline insights metrics --format json`;
        for a short answer use pipeline_health."""
        return answer(metrics(since, until, days, repository))

    @server.tool(name="pipeline_health", title="Is the pipeline healthy? (short)", **scoped("read"))
    def pipeline_health(days: int = 7, repository: str | None = None) -> Answer:
        """A short, bounded digest over the last `days` days of ingested workflow runs: is the
        default branch healthy, its success rate and mean recovery against the benchmarks,
        which default-branch workflows are still red, duration P50/P95, the three most failing
        workflows and up to four plain-language findings. Use it to answer "why is main red?"
        or "is CI healthy?" cheaply."""
        return answer(health(metrics(None, None, days, repository)))
