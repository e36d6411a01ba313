"""Requests per second and latency of the web dyno under wrk (Debian's wrk).

    .venv/bin/python bench/web_load.py [--seconds 10] [--connections 8]

Starts the Procfile's web line on loopback with the embedded defaults (the
rate limit lifted), then runs wrk against ``/healthz`` and against
``POST /api/v1/predict`` with a real 24-hour Open-Meteo body. Prints a table
and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def wrk(url: str, seconds: int, connections: int, script: Path | None) -> dict:
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if script:
        args[1:1] = ["-s", str(script)]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout

    def latency(label: str) -> float:
        value, unit = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    from tests.conftest import open_meteo_body
    from weatherapp.ai.dataset import read_csv

    hours = read_csv(ROOT / "data" / "greensboro_723170_hourly.csv")
    body = json.dumps(open_meteo_body(hours, 3000))
    line = next(
        x.partition(":")[2]
        for x in (ROOT / "Procfile").read_text().splitlines()
        if x.startswith("web:")
    )
    with tempfile.TemporaryDirectory() as folder:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "REDIS_URL")
        }
        env.update(
            PATH=os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]]),
            PORT=str(port),
            WEATHERALERT_VAR_DIR=folder,
            SECURE_SSL_REDIRECT="false",
            PREDICT_RATE_LIMIT="1000000000/60",
            RUNTIME_METRICS_INTERVAL="0",
        )
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        script = Path(folder) / "post.lua"
        script.write_text(
            'wrk.method = "POST"\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = {json.dumps(body)}\n"
        )
        web = subprocess.Popen(
            shlex.split(line),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            time.sleep(3)
            base = f"http://127.0.0.1:{port}"
            subprocess.run(
                ["curl", "-s", "-o", "/dev/null", f"{base}/healthz"], check=False
            )
            results = {
                "/healthz": wrk(
                    f"{base}/healthz", args.seconds, args.connections, None
                ),
                "/api/v1/predict": wrk(
                    f"{base}/api/v1/predict", args.seconds, args.connections, script
                ),
            }
        finally:
            os.killpg(web.pid, signal.SIGTERM)
            web.wait(timeout=30)
    print(f"{'endpoint':<18}{'req/s':>10}{'p50':>10}{'p99':>10}{'non-2xx':>9}")
    for name, r in results.items():
        print(
            f"{name:<18}{r['requests_per_s']:>10.0f}{r['p50_ms']:>8.2f}ms"
            f"{r['p99_ms']:>8.2f}ms{r['non_2xx']:>9}"
        )
    print(json.dumps({"connections": args.connections, "endpoints": results}))


if __name__ == "__main__":
    main()
