"""Operator metrics in the Prometheus text format (docs/operations.md, "Metrics").

Instruments exist only when ``VERWIJSINDEX_METRICS_TOKEN`` is set (:func:`process_metrics`);
otherwise nothing is measured and ``/metrics`` answers 404. No label carries personal data or
anything that could single out a youth: requests are labelled by route *template*, method and
status; the rest have no labels or a fixed, small set (an outcome, a status).

Several ``serve`` worker processes: Prometheus' multiprocess mode. ``serve --workers N``
creates a fresh directory and sets ``PROMETHEUS_MULTIPROC_DIR`` before any process imports
``prometheus_client`` (so it is imported lazily, here only), every process writes its
counters and histograms to its own files there, and whichever worker answers ``/metrics``
adds them up. Gauges of the database (outbox depth, ledger size, …) are read at scrape time
by the answering process, so they need no aggregation.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import Counter, Histogram
    from prometheus_client.metrics_core import Metric

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_GROUP_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
_SWEEP_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0)


class Metrics:
    """The process's instruments (one set per process: Prometheus registers them by name)."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Histogram

        self.request_seconds: Histogram = Histogram(
            "verwijsindex_http_request_duration_seconds",
            "Requests by route template, method and status, and their latency",
            ["route", "method", "status"],
            buckets=_LATENCY_BUCKETS,
        )
        self.write_group_size: Histogram = Histogram(
            "verwijsindex_write_group_size",
            "Units of work committed together by the group committer (ADR 0005)",
            buckets=_GROUP_BUCKETS,
        )
        self.deliveries: Counter = Counter(
            "verwijsindex_webhook_deliveries",
            "Webhook delivery attempts by outcome",
            ["outcome"],
        )
        self.delivery_seconds: Histogram = Histogram(
            "verwijsindex_webhook_delivery_duration_seconds",
            "Latency of webhook delivery attempts",
            buckets=_LATENCY_BUCKETS,
        )
        self.sweeps: Counter = Counter(
            "verwijsindex_sweep_runs", "Lifecycle sweeps by outcome", ["outcome"]
        )
        self.sweep_seconds: Histogram = Histogram(
            "verwijsindex_sweep_duration_seconds",
            "Duration of lifecycle sweeps",
            buckets=_SWEEP_BUCKETS,
        )
        self._requests: dict[tuple[str, str, int], Any] = {}

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """One answered request. The label set's child is looked up once and kept: a
        request costs one dictionary lookup and one histogram observation."""
        key = (route, method, status)
        child = self._requests.get(key)
        if child is None:
            label = method if method in _METHODS else "other"
            child = self.request_seconds.labels(route, label, str(status))
            self._requests[key] = child
        child.observe(seconds)

    def observe_group(self, size: int) -> None:
        self.write_group_size.observe(size)

    def observe_delivery(self, outcome: str, seconds: float) -> None:
        self.deliveries.labels(outcome).inc()
        self.delivery_seconds.observe(seconds)

    def observe_sweep(self, outcome: str, started: float) -> None:
        self.sweeps.labels(outcome).inc()
        self.sweep_seconds.observe(time.perf_counter() - started)


_PROCESS_METRICS: Metrics | None = None


def process_metrics() -> Metrics:
    """This process's instruments, created on first use."""
    global _PROCESS_METRICS
    if _PROCESS_METRICS is None:
        _PROCESS_METRICS = Metrics()
    return _PROCESS_METRICS


@dataclass(frozen=True)
class Gauge:
    """A value read from the database at scrape time."""

    name: str
    documentation: str
    samples: list[tuple[dict[str, str], float]]


def render(gauges: Iterable[Gauge]) -> bytes:
    """The exposition: this process's instruments (or, in multiprocess mode, every
    process's, added up) and the gauges read for this scrape."""
    from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
    from prometheus_client.metrics_core import GaugeMetricFamily

    process_metrics()
    if os.environ.get(MULTIPROCESS_DIR):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        exposition = generate_latest(registry)
    else:
        exposition = generate_latest(REGISTRY)
    families: list[Metric] = []
    for gauge in gauges:
        labels = sorted({name for sample, _ in gauge.samples for name in sample})
        family = GaugeMetricFamily(gauge.name, gauge.documentation, labels=labels or None)
        for sample, value in gauge.samples:
            if labels:
                family.add_metric([sample[name] for name in labels], value)
            else:
                family.add_metric([], value)
        families.append(family)

    class _Scrape:
        def collect(self) -> Iterable[Metric]:
            return families

    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(_Scrape())
    return exposition + generate_latest(scrape)


DeliveryObserver = Callable[[str, float], None]
