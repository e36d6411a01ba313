"""This process's counters for /metrics (Prometheus text format), numpy-free.

Counters are per process: with WEB_CONCURRENCY > 1 each gunicorn worker
answers for itself (Prometheus sums them by instance as usual).
"""

from __future__ import annotations

import bisect
import threading

# Seconds; a single-window invoke takes tens of microseconds.
LATENCY_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.1, 1.0)

_lock = threading.Lock()
predictions_served = 0
windows_scored = 0
_latency_counts = [0] * (len(LATENCY_BUCKETS) + 1)
_latency_sum = 0.0


def count_prediction() -> None:
    global predictions_served
    with _lock:
        predictions_served += 1


def observe_inference(seconds: float, windows: int) -> None:
    global _latency_sum, windows_scored
    with _lock:
        _latency_counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        _latency_sum += seconds
        windows_scored += windows


def render(
    rss_bytes: int,
    model_loaded: bool,
    alerts: dict[str, int],
    faults: dict[str, int] | None = None,
) -> str:
    with _lock:
        counts, total, served, scored = (
            list(_latency_counts),
            _latency_sum,
            predictions_served,
            windows_scored,
        )
    lines = [
        "# HELP process_resident_memory_bytes Resident memory of this process.",
        "# TYPE process_resident_memory_bytes gauge",
        f"process_resident_memory_bytes {rss_bytes}",
        "# HELP weatheralert_model_loaded Whether this process made its interpreter.",
        "# TYPE weatheralert_model_loaded gauge",
        f"weatheralert_model_loaded {int(model_loaded)}",
        "# HELP weatheralert_predictions_served_total Predictions answered by the API.",
        "# TYPE weatheralert_predictions_served_total counter",
        f"weatheralert_predictions_served_total {served}",
        "# HELP weatheralert_windows_scored_total Windows scored by this process.",
        "# TYPE weatheralert_windows_scored_total counter",
        f"weatheralert_windows_scored_total {scored}",
        "# HELP weatheralert_inference_seconds Time of one interpreter invoke.",
        "# TYPE weatheralert_inference_seconds histogram",
    ]
    cumulative = 0
    for bound, count in zip((*LATENCY_BUCKETS, "+Inf"), counts, strict=True):
        cumulative += count
        lines.append(
            f'weatheralert_inference_seconds_bucket{{le="{bound}"}} {cumulative}'
        )
    lines += [
        f"weatheralert_inference_seconds_sum {total:.9f}",
        f"weatheralert_inference_seconds_count {cumulative}",
        "# HELP weatheralert_alerts Alerts by status (all dynos, from the database).",
        "# TYPE weatheralert_alerts gauge",
        *(
            f'weatheralert_alerts{{status="{s}"}} {n}'
            for s, n in sorted(alerts.items())
        ),
        "# HELP weatheralert_cycle_faults_total Cells or places the cycle could "
        "not handle, by stage (all dynos, from the database).",
        "# TYPE weatheralert_cycle_faults_total counter",
        *(
            f'weatheralert_cycle_faults_total{{stage="{s}"}} {n}'
            for s, n in sorted((faults or {}).items())
        ),
    ]
    return "\n".join(lines) + "\n"
