"""Concern counts for `/metrics` (project/metrics.py `SCRAPE_COLLECTORS`), read at scrape time
through `selectors.concern_tally`: by status and how many are late; never a group or text."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from safeguarding.selectors import concern_tally


class ConcernCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        tally = concern_tally()
        by_status = GaugeMetricFamily("haven_concerns", "Concerns by status.", labels=["status"])
        for status, count in sorted(tally.by_status.items()):
            by_status.add_metric([status], count)
        yield by_status
        yield GaugeMetricFamily(
            "haven_concerns_overdue",
            "Concerns past their answer-by time that nobody has acknowledged.",
            value=tally.late,
        )
