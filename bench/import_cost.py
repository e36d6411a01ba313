"""What importing a library adds to a process's memory (PSS).

    .venv/bin/python bench/import_cost.py urllib3
    /some/venv/bin/python bench/import_cost.py openmeteo_requests

The process first imports what the weather client already uses (http.client,
json, ssl), then the named modules; prints the PSS they add (Linux
/proc/self/smaps_rollup) as a table line and one JSON line.
"""

from __future__ import annotations

import http.client  # noqa: F401 (the baseline: what fetch.py already uses)
import importlib
import json
import ssl  # noqa: F401
import sys


def pss_mb() -> float:
    with open("/proc/self/smaps_rollup") as rollup:
        for line in rollup:
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no Pss in /proc/self/smaps_rollup")


def main() -> None:
    before = pss_mb()
    for name in sys.argv[1:]:
        importlib.import_module(name)
    added = pss_mb() - before
    print(f"{' '.join(sys.argv[1:])}: +{added:.1f} MB PSS (from {before:.1f} MB)")
    print(json.dumps({"modules": sys.argv[1:], "pss_added_mb": round(added, 1)}))


if __name__ == "__main__":
    main()
