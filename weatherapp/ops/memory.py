"""Dyno memory as Heroku sees it, from /proc (no psutil, no numpy).

A dyno's memory is that of all its processes: gunicorn's master and workers,
or Celery's main process and pool children. RSS summed over processes counts
pages shared after a fork once per process; PSS divides them among sharers,
which is closer to what the dyno's memory cgroup charges. Both are reported.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("weatheralert.dyno")

PROC = Path("/proc")


@dataclass(frozen=True)
class Sample:
    rss_mb: float
    pss_mb: float
    processes: int


def children(pid: int) -> list[int]:
    found = []
    for task in (PROC / str(pid) / "task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return found


def tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        todo += children(current)
    return pids


def _kib(path: Path, field: str) -> int:
    try:
        for line in path.read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def own_rss_bytes() -> int:
    return _kib(PROC / "self" / "status", "VmRSS:") * 1024


def sample(pid: int | None = None) -> Sample:
    """RSS and PSS summed over ``pid`` (default: this process) and descendants."""
    pids = tree(pid or os.getpid())
    rss = sum(_kib(PROC / str(p) / "status", "VmRSS:") for p in pids)
    pss = sum(_kib(PROC / str(p) / "smaps_rollup", "Pss:") for p in pids)
    return Sample(rss / 1024, pss / 1024, len(pids))


def runtime_metrics_line(source: str, s: Sample, quota_mb: float) -> str:
    """A line shaped like Heroku's log-runtime-metrics, ending with ``mem=``
    so that the usual ``heroku logs --tail | grep "mem="`` finds it too."""
    return (
        f"source={source} sample#memory_total={s.pss_mb:.2f}MB "
        f"sample#memory_rss={s.rss_mb:.2f}MB sample#memory_pss={s.pss_mb:.2f}MB "
        f"sample#memory_quota={quota_mb:.2f}MB sample#processes={s.processes} "
        f"mem={s.pss_mb:.0f}MB"
    )


def start_reporter(
    default_source: str, interval: float, quota: float, share: float
) -> threading.Thread | None:
    """Log this process tree's memory every ``interval`` seconds (0: never).

    Call it in the dyno's top process (gunicorn's master, Celery's main
    process), or set MEMORY_TREE_PID to the dyno's top process. Above
    ``share`` of the ``quota`` (MB) it warns, as Heroku's R14 would, before
    the dyno starts to swap.
    """
    if interval <= 0:
        return None
    # gunicorn's master never loads Django's LOGGING: give these lines their
    # own handler (stderr, which Heroku collects) so they show up everywhere.
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    source = os.environ.get("DYNO", default_source)
    # bin/one-dyno names its own process: the tree of the whole dyno.
    pid = int(os.environ.get("MEMORY_TREE_PID") or os.getpid())
    tick = threading.Event()

    def report() -> None:
        while not tick.wait(interval):
            s = sample(pid)
            log.info(runtime_metrics_line(source, s, quota))
            if s.pss_mb > share * quota:
                log.warning(
                    'source=%s at=warn code=R14 desc="Memory quota nearly exceeded" '
                    "memory_total=%.2fMB threshold=%.2fMB",
                    source,
                    s.pss_mb,
                    share * quota,
                )

    thread = threading.Thread(target=report, name="runtime-metrics", daemon=True)
    thread.start()
    return thread
