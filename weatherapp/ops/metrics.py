"""/metrics in Prometheus text, on prometheus_client (numpy-free).

Counters and the latency histogram are prometheus_client's. Under gunicorn
(gunicorn.conf.py sets PROMETHEUS_MULTIPROC_DIR before any worker imports the
app) each worker writes them to its own file in that directory and a scrape,
whichever worker answers it, sums the files of every worker, live or gone: the
web dyno's totals, which also survive gunicorn's max_requests recycling.
Without that variable (runserver, tests, the Celery worker) they live in this
process's memory. prometheus_client picks its mode when it is first imported.

Values read at scrape time (this process's memory, the database's alerts)
come from functions registered with ``scrape_gauge``.
"""

from __future__ import annotations

import contextvars
import functools
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

# Fixed when prometheus_client was imported (above): files or memory.
MULTIPROCESS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None

# Seconds; a single-window invoke takes tens of microseconds.
LATENCY_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.1, 1.0)

# No *_created series: /metrics keeps the series it always had.
disable_created_metrics()
_registry = CollectorRegistry()
_predictions_served = Counter(
    "weatheralert_predictions_served",
    "Predictions answered by the API.",
    registry=_registry,
)
_windows_scored = Counter(
    "weatheralert_windows_scored",
    "Windows scored by this process (under gunicorn: by every web worker).",
    registry=_registry,
)
_inference_seconds = Histogram(
    "weatheralert_inference_seconds",
    "Time of one interpreter invoke.",
    buckets=LATENCY_BUCKETS,
    registry=_registry,
)


def count_prediction() -> None:
    _predictions_served.inc()


def observe_inference(seconds: float, windows: int) -> None:
    _inference_seconds.observe(seconds)
    _windows_scored.inc(windows)


# What a scrape-time function returns: one value, or one per label value.
Reading = float | Mapping[str, float]


@dataclass(frozen=True)
class _Scraped:
    name: str
    documentation: str
    label: str | None
    counter: bool
    read: Callable[[], Reading]


_scraped: dict[str, _Scraped] = {}


def scrape_gauge(
    name: str, documentation: str, label: str | None = None, counter: bool = False
) -> Callable[[Callable[[], Reading]], Callable[[], Reading]]:
    """Register a function that /metrics calls at every scrape, in the process
    that answers, for a gauge (or with ``counter``, a counter whose total lives
    elsewhere, e.g. in the database; its name ends in ``_total``).

    The function returns a number, or with ``label`` a mapping of label value
    to number. Register it in a module the web process imports at start
    (weatherapp/ops/views.py is one); registering a name again replaces it.

        @metrics.scrape_gauge("weatheralert_things", "Things.", label="kind")
        def _things() -> dict[str, int]:
            return {"big": 2, "small": 3}
    """

    def register(read: Callable[[], Reading]) -> Callable[[], Reading]:
        _scraped[name] = _Scraped(name, documentation, label, counter, read)
        return read

    return register


T = TypeVar("T")

# What the functions wrapped by ``once_per_scrape`` returned in this scrape.
_this_scrape: contextvars.ContextVar[dict[Callable[[], Any], Any] | None] = (
    contextvars.ContextVar("this_scrape", default=None)
)


def once_per_scrape(read: Callable[[], T]) -> Callable[[], T]:
    """``read`` run at most once per scrape (``render``), however many gauges
    ask it: for a costly reading (several queries) that several gauges share.
    Outside a scrape it runs at every call."""

    @functools.wraps(read)
    def cached() -> T:
        memo = _this_scrape.get()
        if memo is None:
            return read()
        if read not in memo:
            memo[read] = read()
        result: T = memo[read]
        return result

    return cached


class _AtScrape:
    """The registered scrape-time functions, as a prometheus_client collector."""

    def describe(self) -> list[Metric]:
        return []  # nothing to check at registration; never runs a query

    def collect(self) -> Iterator[Metric]:
        for s in list(_scraped.values()):
            family = CounterMetricFamily if s.counter else GaugeMetricFamily
            value = s.read()
            if isinstance(value, Mapping) != (s.label is not None):
                raise TypeError(f"{s.name}: one number, or a mapping with a label")
            if isinstance(value, Mapping):
                metric = family(s.name, s.documentation, labels=[str(s.label)])
                for label_value, number in sorted(value.items()):
                    metric.add_metric([label_value], number)
                yield metric
            else:
                yield family(s.name, s.documentation, value=value)


_registry.register(_AtScrape())


def _integers(text: str) -> str:
    """prometheus_client writes every value as a float ("3.0", "1.2e+07");
    whole numbers keep the integer form /metrics has always had, which
    Prometheus reads alike and scripts that grep or int() the lines expect."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line and not line.startswith("#"):
            series, _, value = line.rpartition(" ")
            number = float(value)
            if number.is_integer() and abs(number) < 2**53:
                lines[i] = f"{series} {int(number)}"
    return "\n".join(lines) + "\n"


def render() -> str:
    """The Prometheus text of this web dyno's counters and the scrape-time
    values, as answered by this process. An exception of a scrape-time
    function propagates (the view answers it)."""
    if MULTIPROCESS_DIR is None:
        registry = _registry
    else:
        # A new registry per scrape reads the files as they are now.
        registry = CollectorRegistry(auto_describe=False)
        MultiProcessCollector(registry, MULTIPROCESS_DIR)
        registry.register(_AtScrape())
    token = _this_scrape.set({})
    try:
        return _integers(generate_latest(registry).decode())
    finally:
        _this_scrape.reset(token)
