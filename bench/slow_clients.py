"""GET /healthz while slow clients hold connections to the web dyno open.

    .venv/bin/python bench/slow_clients.py [--clients 0 2 4 8]
                                           [--lines seed configured]
                                           [--kind mixed] [--seconds 12]
                                           [--config gunicorn.conf.py]

For each web line (the seed's own, verbatim, and the Procfile's; both read
``--config``, the seed line because gunicorn reads ./gunicorn.conf.py unless
told otherwise, its own flags winning), a fresh dyno in a temporary folder
(embedded defaults, migrated first), bound to 127.0.0.1 through
GUNICORN_CMD_ARGS so the line itself is unchanged. For each count N, N slow
clients connect and trickle one byte every ``--trickle`` seconds (a connection
the server closes is opened again at once): ``headers`` sends a request line
and one header, then never finishes its headers; ``body`` sends the full
headers of a POST to /api/v1/predict with ``Content-Length: 4096`` and a few
bytes of the body; ``silent`` connects and sends nothing; ``mixed`` alternates
headers and body. Meanwhile one client asks GET /healthz again and again for
``--seconds``, each request on a new connection and given ``--probe-timeout``
seconds. A probe that times out or fails counts as a failure, with the timeout
as its latency. The slow clients are then closed and the next round waits until
/healthz answers again. Loopback only, bounded in time, stops by itself. Prints
a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shlex
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    ROOT,
    embedded_env,
    free_port,
    manage,
    procfile_args,
    start,
    stop,
)

SEED_WEB = (
    "gunicorn weatheralert.wsgi --log-file - --workers 1 --threads 2 --timeout 120"
)
KINDS = ("headers", "body", "silent")
BODY_LENGTH = 4096


def healthz(port: int, timeout: float) -> float | None:
    """Seconds one GET /healthz took, or None if it failed or timed out."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        response.read()
        ok = response.status == 200
    except OSError:
        ok = False
    finally:
        conn.close()
    return time.perf_counter() - started if ok else None


def wait_healthy(port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if healthz(port, 2.0) is not None:
            return True
        time.sleep(0.2)
    return False


class SlowClient(threading.Thread):
    """Connections that send part of a request, then a byte now and then (or
    nothing), until told to stop; one the server closes or answers is
    replaced by a new one at once, as an attacker would."""

    def __init__(self, port: int, kind: str, trickle: float, done: threading.Event):
        super().__init__(daemon=True)
        self.port, self.kind, self.trickle, self.done = port, kind, trickle, done
        self.cut = 0  # connections the server closed or answered
        self.sock: socket.socket | None = None

    def _first_bytes(self) -> tuple[bytes, bytes]:
        host = f"Host: 127.0.0.1:{self.port}\r\n"
        if self.kind == "headers":
            return f"GET /healthz HTTP/1.1\r\n{host}X-Slow: ".encode(), b"a"
        if self.kind == "body":
            head = (
                f"POST /api/v1/predict HTTP/1.1\r\n{host}"
                "Content-Type: application/json\r\n"
                f"Content-Length: {BODY_LENGTH}\r\n\r\n" + '{"hourly": '
            )
            return head.encode(), b" "
        return b"", b""

    def run(self) -> None:
        first, drip = self._first_bytes()
        while not self.done.is_set():
            try:
                self.sock = socket.create_connection(("127.0.0.1", self.port), 5)
                if first:
                    self.sock.sendall(first)
                while not self.done.wait(self.trickle) and not self._peer_closed():
                    if drip:
                        self.sock.sendall(drip)
            except OSError:
                pass
            if not self.done.is_set():
                self.cut += 1
                self.close()
                time.sleep(0.05)

    def _peer_closed(self) -> bool:
        """Whether the server has closed (or answered) this connection."""
        assert self.sock is not None
        self.sock.setblocking(False)
        try:
            self.sock.recv(1, socket.MSG_PEEK)
            return True  # b"" (closed) or the start of an answer
        except BlockingIOError:
            return False
        except OSError:
            return True
        finally:
            self.sock.setblocking(True)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()


def one_round(port: int, n: int, kind: str, args: argparse.Namespace) -> dict:
    done = threading.Event()
    kinds = [
        (("headers", "body")[i % 2] if kind == "mixed" else kind) for i in range(n)
    ]
    clients = [SlowClient(port, k, args.trickle, done) for k in kinds]
    for client in clients:
        client.start()
    time.sleep(1.0)  # the slow clients have sent their first bytes
    latencies: list[float | None] = []
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        latencies.append(healthz(port, args.probe_timeout))
        time.sleep(0.1)
    done.set()
    for client in clients:
        client.join(timeout=args.trickle + 5)
    cut = sum(c.cut for c in clients)
    for client in clients:
        client.close()
    failures = sum(x is None for x in latencies)
    counted = [args.probe_timeout if x is None else x for x in latencies]
    recovered = wait_healthy(port, 30)
    return {
        "clients": n,
        "probes": len(latencies),
        "failures": failures,
        "p50_ms": round(statistics.median(counted) * 1000, 1),
        "max_ms": round(max(counted) * 1000, 1),
        "cut_by_server": cut,
        "recovered": recovered,
    }


def run_line(name: str, args: argparse.Namespace) -> list[dict]:
    # gunicorn reads ./gunicorn.conf.py by default, so the seed line gets the
    # file too (its own flags win); GUNICORN_CMD_ARGS points it elsewhere.
    cmd_args = ""
    if name == "seed":
        line = shlex.split(SEED_WEB)  # verbatim; PATH finds this venv's gunicorn
        if args.config != "gunicorn.conf.py":
            cmd_args = f"--config {args.config} "
    else:
        line = procfile_args("web")
        if args.config != "gunicorn.conf.py":
            line[line.index("gunicorn.conf.py")] = args.config
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        env = embedded_env(
            folder,
            PORT=str(port),
            GUNICORN_CMD_ARGS=f"{cmd_args}--bind 127.0.0.1:{port}",
        )
        manage(env, "migrate", "--noinput")
        with open(Path(folder) / "web.log", "w") as log:
            process = start(line, env, log)
            try:
                if not wait_healthy(port, 60):
                    raise SystemExit(f"{name}: the web line did not serve /healthz")
                for n in args.clients:
                    row = one_round(port, n, args.kind, args)
                    rows.append({"line": name, "kind": args.kind, **row})
                    print_row(rows[-1])
            finally:
                stop(process)
        if args.keep_log:
            print((Path(folder) / "web.log").read_text()[-4000:], file=sys.stderr)
    return rows


HEADER = (
    f"{'line':<11}{'kind':<8}{'slow':>5}{'probes':>8}{'failed':>8}"
    f"{'p50 ms':>10}{'max ms':>10}{'cut':>5}  recovered"
)


def print_row(row: dict) -> None:
    print(
        f"{row['line']:<11}{row['kind']:<8}{row['clients']:>5}{row['probes']:>8}"
        f"{row['failures']:>8}{row['p50_ms']:>10.1f}{row['max_ms']:>10.1f}"
        f"{row['cut_by_server']:>5}  {row['recovered']}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[0, 2, 4, 8])
    parser.add_argument(
        "--lines",
        nargs="+",
        choices=("seed", "configured"),
        default=["seed", "configured"],
    )
    parser.add_argument("--kind", choices=(*KINDS, "mixed"), default="mixed")
    parser.add_argument("--seconds", type=float, default=12.0, help="probing time")
    parser.add_argument("--probe-timeout", type=float, default=10.0)
    parser.add_argument("--trickle", type=float, default=2.0, help="seconds a byte")
    parser.add_argument(
        "--config", default="gunicorn.conf.py", help="the config file of both lines"
    )
    parser.add_argument("--keep-log", action="store_true", help="print the log tail")
    args = parser.parse_args()
    if max(args.clients) > 64 or args.seconds > 120:
        raise SystemExit("at most 64 slow clients and 120 s of probing")

    print(
        f"gunicorn threads from the config: {os.environ.get('GUNICORN_THREADS', '-')}; "
        f"probes of {args.probe_timeout:.0f} s for {args.seconds:.0f} s per round"
    )
    print(HEADER)
    rows = [row for name in args.lines for row in run_line(name, args)]
    print(json.dumps({"root": str(ROOT.name), "kind": args.kind, "rows": rows}))


if __name__ == "__main__":
    main()
