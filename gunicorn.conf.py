"""gunicorn settings for the web dyno (the Procfile's web line reads this file).

Each value with the reason for it; the numbers behind them are in
docs/PERFORMANCE.md. gunicorn binds 0.0.0.0:$PORT by itself when PORT is set.
"""

import glob
import os
import shutil
import sys
import tempfile
import time


def number(name: str, default: str, kind: type = int) -> float:
    """A config var as a number (weatheralert/env.py); one that is not stops
    gunicorn with its name instead of a traceback about the config file."""
    from weatheralert.env import ConfigVarError, env_float, env_int

    try:
        return (env_int if kind is int else env_float)(name, default)
    except ConfigVarError as exc:
        sys.exit(f"error: {exc}")


# One worker process per dyno by default: each holds Django (~45 MB) and, after
# its first prediction, its own interpreter; WEB_CONCURRENCY scales it.
workers = number("WEB_CONCURRENCY", "1")
# Eight threads: a prediction takes ~0.1 ms of CPU, requests mostly wait on the
# database; the interpreter's lock keeps invoke() safe across them. Two were
# enough for the load, but gthread gives a connection a thread from its first
# byte to the end of its body, so two slow clients blocked the dyno
# (bench/slow_clients.py). Threads cost no measurable memory (web PSS 65-75 MB
# with 2, 16 or 32); each may keep one database connection (CONN_MAX_AGE).
threads = number("GUNICORN_THREADS", "8")
# gunicorn 27 has no setting that bounds reading a request: a thread blocks in
# recv() for as long as a client trickles its headers or body (``timeout`` is
# the worker's heartbeat, which gthread's main loop keeps beating meanwhile).
# So the worker class is gthread's with a read deadline (see below).
REQUEST_READ_TIMEOUT = number("GUNICORN_REQUEST_READ_TIMEOUT", "10", float)
# gthread holds a thread up to 5 s for a connection's first byte; 1 s here.
FIRST_BYTE_WAIT = number("GUNICORN_FIRST_BYTE_WAIT", "1", float)
# The seed deployment's timeout; Heroku's router gives up at 30 s anyway.
timeout = 120
graceful_timeout = 25  # Heroku sends SIGKILL 30 s after SIGTERM
# Longer than the Heroku router's 90 s idle timeout for its connections to the
# dyno, so the router, not gunicorn, closes an idle one (no race on a request
# sent as gunicorn hangs up). An idle kept-alive connection waits in gthread's
# poller and holds no thread.
keepalive = 95
# Preloading Django in the master was measured *worse* with one worker (peak
# PSS 82.9 MB against 70.2 MB): Python's reference counts dirty the "shared"
# pages, so master and worker each pay. With several workers it may pay off;
# it is safe either way, since the model is created lazily after the fork.
preload_app = os.environ.get("GUNICORN_PRELOAD", "false") == "true"
# Recycle a worker now and then: a slow leak cannot grow into an R14.
max_requests = 20000
max_requests_jitter = 2000
accesslog = "-"
# logfmt, like the router's own lines, with the router's X-Request-ID so one
# request can be followed from router to app (`heroku logs | grep request_id=`).
access_log_format = (
    'at=info method=%(m)s path="%(U)s" status=%(s)s bytes=%(B)s '
    'duration_ms=%(M)s request_id=%({x-request-id}i)s fwd="%({x-forwarded-for}i)s"'
)
errorlog = "-"
# No control socket file under $HOME (gunicorn 24+); dynos need none.
control_socket_disable = True


# /metrics sums the counters of every worker (prometheus_client's multiprocess
# mode, weatherapp/ops/metrics.py): each worker writes its own to a file in
# PROMETHEUS_MULTIPROC_DIR, which must be set before a worker (or preload_app)
# imports the app, so here, when gunicorn reads this file. A private temporary
# directory unless the variable names one (on_starting empties it, on_exit
# removes ours).
METRICS_DIRECTORY = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
_METRICS_DIRECTORY_OURS = not METRICS_DIRECTORY
if _METRICS_DIRECTORY_OURS:
    METRICS_DIRECTORY = tempfile.mkdtemp(prefix="weatheralert-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = METRICS_DIRECTORY


def on_starting(server):
    """A previous run's counters are not this one's (prometheus_client asks
    for an empty directory at start)."""
    os.makedirs(METRICS_DIRECTORY, exist_ok=True)
    for stale in glob.glob(os.path.join(METRICS_DIRECTORY, "*.db")):
        os.remove(stale)


def when_ready(server):
    """The master logs the whole dyno's memory every 20 s."""
    from weatherapp.ops.memory import start_reporter

    start_reporter(
        "web.1",
        number("RUNTIME_METRICS_INTERVAL", "20", float),
        number("DYNO_MEMORY_QUOTA_MB", "512", float),
        number("MEMORY_WARN_SHARE", "0.85", float),
    )


def child_exit(server, worker):
    """A worker is gone (recycled or died): its counters stay in its file and
    keep counting; prometheus_client drops its "live" gauges, if it had any
    (only then: importing prometheus_client costs the master ~2 MB)."""
    pattern = os.path.join(METRICS_DIRECTORY, f"gauge_live*_{worker.pid}.db")
    if glob.glob(pattern):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid, METRICS_DIRECTORY)


def on_exit(server):
    if _METRICS_DIRECTORY_OURS:
        shutil.rmtree(METRICS_DIRECTORY, ignore_errors=True)


class _ReadDeadlineSocket:
    """A connection's socket as gunicorn's parser sees it: every recv() of one
    request (line, headers and the body the app reads) ends by a deadline set
    at its first recv(); past it recv() answers b"" as if the client had gone.
    An unfinished request line or headers is then dropped without a response;
    an unfinished body reaches the app truncated (a 400 for the JSON API)."""

    def __init__(self, sock, seconds, log):
        self._sock, self._seconds, self._log = sock, seconds, log
        self.deadline = None

    def __getattr__(self, name):
        return getattr(self._sock, name)

    def recv(self, size, *flags):
        now = time.monotonic()
        if self.deadline is None:
            self.deadline = now + self._seconds
        remaining = self.deadline - now
        if remaining <= 0:
            return b""
        prior = self._sock.gettimeout()
        self._sock.settimeout(remaining if prior is None else min(prior, remaining))
        try:
            return self._sock.recv(size, *flags)
        except TimeoutError:
            if prior is not None and prior < remaining:
                raise  # gunicorn's own (shorter) timeout: its handling
            self._log.warning(
                "slow client: request not read within %.0f s, connection closed",
                self._seconds,
            )
            self.deadline = now  # every later recv() of this request: b""
            return b""
        finally:
            self._sock.settimeout(prior)


def _read_deadline_worker():
    """gthread's worker with a read deadline per request (gunicorn calls this
    when it reads ``worker_class``). tests/test_slow_clients.py checks it
    against the installed gunicorn (pinned in requirements.txt)."""
    from gunicorn.workers import gthread

    class ReadDeadlineThreadWorker(gthread.ThreadWorker):
        def handle(self, conn):
            # (True at once when the poller already saw data)
            if not conn.initialized and not conn.wait_for_data(FIRST_BYTE_WAIT):
                return gthread._DEFER  # back to the poller, the thread freed
            if not isinstance(conn.sock, _ReadDeadlineSocket):
                conn.sock = _ReadDeadlineSocket(
                    conn.sock, REQUEST_READ_TIMEOUT, self.log
                )
            conn.sock.deadline = None  # a new request on this connection
            return super().handle(conn)

    return ReadDeadlineThreadWorker


worker_class = _read_deadline_worker
