"""The Celery app (``celery -A weatherapp worker``), configured from Django settings."""

import logging
import os
from typing import Any

from celery import Celery
from celery.signals import beat_init, worker_ready, worker_shutting_down

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "weatheralert.settings")
# Celery's Django fixup runs Django's system checks as the worker starts; the
# URL checks import every view (and whitenoise, prometheus_client), ~10 MB of
# code a worker never runs (docs/PERFORMANCE.md). The release phase runs
# `check --deploy --fail-level WARNING` before any dyno starts. (Celery skips
# them for any non-empty value; set CELERY_SKIP_CHECKS= to run them.)
os.environ.setdefault("CELERY_SKIP_CHECKS", "1")

logger = logging.getLogger(__name__)
app = Celery("weatherapp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _report_memory(source: str) -> None:
    from django.conf import settings

    from .ops.memory import start_reporter

    start_reporter(
        source,
        settings.RUNTIME_METRICS_INTERVAL,
        settings.DYNO_MEMORY_QUOTA_MB,
        settings.MEMORY_WARN_SHARE,
    )


@worker_ready.connect
def _worker_memory(sender: object = None, **kwargs: Any) -> None:
    _report_memory("worker.1")


@beat_init.connect
def _beat_started(sender: object = None, **kwargs: Any) -> None:
    _report_memory("beat.1")
    # Beat runs an entry one interval after it starts, and its schedule file
    # does not outlive a dyno (restarted daily and by every release): each
    # restart delayed alerts by up to PREDICTION_INTERVAL_SECONDS. A cycle now
    # is cheap when one just ran (cells fetched this hour are skipped).
    try:
        cycle = app.conf.beat_schedule["cycle"]
        app.send_task(cycle["task"], **cycle["options"])
    except Exception:  # noqa: BLE001 (the broker's errors are many; beat retries)
        logger.warning("beat: the first cycle was not sent; the schedule will")


@worker_shutting_down.connect
def _stop_retrying(sender: object = None, **kwargs: Any) -> None:
    """A warm shutdown waits for the running chunk; with the weather server
    hanging, its retries outlasted Heroku's 30 s before SIGKILL (88 s seen).
    The chunk now stores what it has and leaves the rest to the next cycle."""
    from .forecast.fetch import STOP_RETRYING

    STOP_RETRYING.set()
