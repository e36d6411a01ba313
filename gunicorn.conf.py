"""gunicorn settings for the web dyno (the Procfile's web line reads this file).

Each value with the reason for it; the numbers behind them are in
docs/PERFORMANCE.md. gunicorn binds 0.0.0.0:$PORT by itself when PORT is set.
"""

import os

# One worker process per dyno by default: each holds Django (~45 MB) and, after
# its first prediction, its own interpreter; WEB_CONCURRENCY scales it.
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
# Two threads: a prediction takes ~0.1 ms of CPU, requests mostly wait on the
# database; the interpreter's lock keeps invoke() safe across them.
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
worker_class = "gthread"
# The seed deployment's timeout; Heroku's router gives up at 30 s anyway.
timeout = 120
graceful_timeout = 25  # Heroku sends SIGKILL 30 s after SIGTERM
keepalive = 5
# Preloading Django in the master was measured *worse* with one worker (peak
# PSS 82.9 MB against 70.2 MB): Python's reference counts dirty the "shared"
# pages, so master and worker each pay. With several workers it may pay off;
# it is safe either way, since the model is created lazily after the fork.
preload_app = os.environ.get("GUNICORN_PRELOAD", "false") == "true"
# Recycle a worker now and then: a slow leak cannot grow into an R14.
max_requests = 20000
max_requests_jitter = 2000
accesslog = "-"
errorlog = "-"
# No control socket file under $HOME (gunicorn 24+); dynos need none.
control_socket_disable = True


def when_ready(server):
    """The master logs the whole dyno's memory every 20 s."""
    from weatherapp.ops.memory import start_reporter

    start_reporter(
        "web.1",
        float(os.environ.get("RUNTIME_METRICS_INTERVAL", "20")),
        float(os.environ.get("DYNO_MEMORY_QUOTA_MB", "512")),
        float(os.environ.get("MEMORY_WARN_SHARE", "0.85")),
    )
