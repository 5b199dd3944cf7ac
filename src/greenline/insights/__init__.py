"""Delivery insights: the industry report's metrics (throughput, duration, success rate,
recovery) for a team's own pipelines, compared with the recommended benchmarks and the 2026
medians, as numbers, findings and an HTML report."""

from __future__ import annotations
