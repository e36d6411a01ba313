"""The benchmarks' entry to support.py (the repository root on sys.path) and
the one request they all send."""

from __future__ import annotations

import http.client
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support import (  # noqa: E402, F401 (the benchmarks' shared toolbox)
    ROOT,
    RUN_CYCLE,
    city_places,
    embedded_env,
    free_port,
    manage,
    open_meteo_body,
    procfile_args,
    start,
    stop,
)


def post_prediction(port: int, body: str) -> int:
    """POST one Open-Meteo body to /api/v1/predict; the HTTP status."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(
            "POST", "/api/v1/predict", body, {"Content-Type": "application/json"}
        )
        return conn.getresponse().status
    finally:
        conn.close()
