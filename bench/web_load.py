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
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, embedded_env, free_port, manage, procfile_args, start, stop  # noqa: E402

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
    from common import open_meteo_body

    from weatherapp.forecast.dataset import read_csv

    hours = read_csv(ROOT / "data" / "greensboro_723170_hourly.csv")
    body = json.dumps(open_meteo_body(hours, 3000))
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        env = embedded_env(folder, PORT=str(port))
        manage(env, "migrate", "--noinput")
        script = Path(folder) / "post.lua"
        script.write_text(
            'wrk.method = "POST"\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = {json.dumps(body)}\n"
        )
        web = start(procfile_args("web"), env)
        try:
            time.sleep(3)
            base = f"http://127.0.0.1:{port}"
            results = {
                "/healthz": wrk(
                    f"{base}/healthz", args.seconds, args.connections, None
                ),
                "/api/v1/predict": wrk(
                    f"{base}/api/v1/predict", args.seconds, args.connections, script
                ),
            }
        finally:
            stop(web)
    print(f"{'endpoint':<18}{'req/s':>10}{'p50':>10}{'p99':>10}{'non-2xx':>9}")
    for name, r in results.items():
        print(
            f"{name:<18}{r['requests_per_s']:>10.0f}{r['p50_ms']:>8.2f}ms"
            f"{r['p99_ms']:>8.2f}ms{r['non_2xx']:>9}"
        )
    print(json.dumps({"connections": args.connections, "endpoints": results}))


if __name__ == "__main__":
    main()
