"""Slow clients against the Procfile's web line (gunicorn.conf.py): connections
that trickle their headers or body must not take the dyno's threads for good.
Figures: bench/slow_clients.py and docs/PERFORMANCE.md."""

import http.client
import socket
import time

import pytest

from support import ROOT, child_env, free_port, manage, read_procfile

from .conftest import wait_for

pytestmark = pytest.mark.slow

READ_TIMEOUT = 2  # GUNICORN_REQUEST_READ_TIMEOUT here, to keep the test short


def healthz(port, timeout=5):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status
    except OSError:
        return None
    finally:
        conn.close()


@pytest.fixture
def web(spawn, tmp_path):
    port = free_port()
    env = child_env(
        PORT=str(port),
        WEATHERALERT_VAR_DIR=str(tmp_path),
        GUNICORN_CMD_ARGS=f"--bind 127.0.0.1:{port}",
        GUNICORN_REQUEST_READ_TIMEOUT=str(READ_TIMEOUT),
        GUNICORN_THREADS="2",  # the case: as many slow clients as threads
        RUNTIME_METRICS_INTERVAL="0",
    )
    manage(env, "migrate", "--noinput")
    args = read_procfile(ROOT / "Procfile")["web"].split()
    process = spawn("web", args, env)
    wait_for(lambda: healthz(port) == 200, what="gunicorn to serve /healthz")
    return port, process


def slow_connections(port):
    """One client stuck in its headers, one in the body of a POST."""
    head = socket.create_connection(("127.0.0.1", port), timeout=10)
    head.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a")
    body = socket.create_connection(("127.0.0.1", port), timeout=10)
    body.sendall(
        b"POST /api/v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 4096\r\n\r\n{"
    )
    return head, body


def test_health_answers_while_two_slow_clients_hold_both_threads(web):
    port, process = web
    head, body = slow_connections(port)
    try:
        time.sleep(0.5)  # both have sent bytes: each has taken a thread
        started = time.monotonic()
        answers = []
        while time.monotonic() - started < 3 * READ_TIMEOUT:
            if time.monotonic() - started < READ_TIMEOUT - 0.5:
                head.sendall(b"a")  # trickle a byte now and then, never the end
                body.sendall(b" ")
            answers.append(healthz(port, timeout=READ_TIMEOUT + 5))
            time.sleep(0.2)
        # Blocked for at most the read deadline, then answered every time.
        assert answers and all(status == 200 for status in answers), answers
        # The server gave up on both: headers dropped unanswered, the body's
        # request answered (truncated JSON is a 400).
        head.settimeout(READ_TIMEOUT + 5)
        assert head.recv(100) == b""
        body.settimeout(READ_TIMEOUT + 5)
        assert body.recv(100).startswith(b"HTTP/1.1 400")
    finally:
        head.close()
        body.close()
    assert "slow client: request not read within" in process.output()
    assert "Traceback" not in process.output()


def test_silent_connections_do_not_hold_threads(web):
    port, _ = web
    silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
    try:
        time.sleep(0.2)
        started = time.monotonic()
        assert healthz(port, timeout=10) == 200
        # gthread alone waits 5 s for a first byte with the thread taken.
        assert time.monotonic() - started < 4
    finally:
        for sock in silent:
            sock.close()


def test_the_deadline_is_per_request_on_a_kept_alive_connection(web):
    """A fast client idle on a kept-alive connection for longer than the read
    deadline still has its next request served."""
    port, _ = web
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        sockets = []
        for _ in range(2):
            conn.request("GET", "/healthz")
            response = conn.getresponse()
            response.read()
            assert response.status == 200
            sockets.append(conn.sock)
            time.sleep(READ_TIMEOUT + 0.5)  # keepalive is 5 s
        headers = {"Content-Type": "application/json"}
        conn.request("POST", "/api/v1/predict", b"{broken", headers)
        response = conn.getresponse()
        assert response.status == 400 and b"malformed JSON" in response.read()
        assert sockets == [conn.sock, conn.sock]  # one connection throughout
    finally:
        conn.close()
