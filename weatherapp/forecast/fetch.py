"""One GET of JSON from an Open-Meteo API, the way every client here asks.

Separate connect and read timeouts, a total ``Deadline`` per request (a server
dripping bytes cannot hold a worker), retries with exponential backoff on
network errors, 5xx and 429 (honouring ``Retry-After``), a User-Agent, and a
4xx error body (``{"error": true, "reason": ...}``) handed back for the caller
to raise on. Standard library only: the forecast source and the place search
(sources.py, geocoding.py) share it.

The connection is kept alive between requests (one per thread): a cycle's
requests to the same host skip the TCP and TLS handshakes (about a round trip
each, several for TLS). http.client does this with no memory cost, where
urllib3 would add its import to the worker for the same result.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import logging
import math
import threading
import time
import urllib.parse
from collections.abc import Callable

from weatherapp.deadline import Deadline

log = logging.getLogger(__name__)


class FetchError(RuntimeError):
    """No usable answer (after the retries); the message says why."""


# Set when the process is told to stop (the Celery worker's SIGTERM; Heroku
# kills it 30 s later): a failed attempt is then not retried, so a weather
# server that hangs holds the shutdown for one attempt, not four.
STOP_RETRYING = threading.Event()


class JsonFetcher:
    def __init__(
        self,
        base_url: str,
        what: str,
        setting: str,
        connect_timeout: float,
        read_timeout: float,
        retries: int,
        backoff: float,
        max_wait: float,
        user_agent: str,
        deadline: float,
        max_body: int,
        on_attempt: Callable[[], None] | None = None,
    ) -> None:
        url = urllib.parse.urlsplit(base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"{setting} {base_url!r} is not an http(s) URL")
        self.url = url
        self.host: str = url.hostname
        self.what = what  # how messages name the service
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait
        self.user_agent = user_agent
        self.deadline = deadline
        self.max_body = max_body
        self.on_attempt = on_attempt  # told of every request sent (counting)
        self._local = threading.local()  # this thread's kept-alive connection

    def path(self, endpoint: str, params: dict[str, object]) -> str:
        """``endpoint`` (e.g. "/v1/forecast") under the base URL's path."""
        path = self.url.path.rstrip("/") + endpoint
        return f"{path}?{urllib.parse.urlencode(params)}"

    def get(self, target: str) -> object:
        """A 200's JSON, or a 4xx's error body; FetchError otherwise."""
        problem = ""
        for attempt in range(self.retries + 1):
            wait = self.backoff * 2**attempt
            try:
                status, headers, body = self._get(target)
            except (OSError, http.client.HTTPException) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if status == 200 or (400 <= status < 500 and status != 429):
                    return self._json_body(status, body)
                problem = f"HTTP {status}"
                wait = max(wait, retry_after(headers.get("Retry-After")))
            if attempt == self.retries:
                break
            wait = min(wait, self.max_wait)
            log.warning("%s %s; retrying in %.1f s", self.what, problem, wait)
            # The wait ends early when the process is told to stop.
            if STOP_RETRYING.is_set() or STOP_RETRYING.wait(wait):
                problem += " (not retried: shutting down)"
                break
        tries = attempt + 1
        raise FetchError(f"{self.what} unavailable after {tries} tries: {problem}")

    def _get(self, target: str) -> tuple[int, http.client.HTTPMessage, bytes]:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            try:
                return self._exchange(conn, target)
            except (ConnectionError, http.client.BadStatusLine):
                # The server closed the idle connection: ask again on a new
                # one (nothing was answered, so this costs no attempt).
                pass
        return self._exchange(self._connect(), target)

    def _connect(self) -> http.client.HTTPConnection:
        kind = (
            http.client.HTTPSConnection
            if self.url.scheme == "https"
            else http.client.HTTPConnection
        )
        conn = kind(self.host, self.url.port, timeout=self.connect_timeout)
        self._local.conn = conn
        return conn

    def _exchange(
        self, conn: http.client.HTTPConnection, target: str
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        headers = {"User-Agent": self.user_agent, "Accept": "application/json"}
        # Read timeouts bound each wait; the deadline bounds the whole request.
        if self.on_attempt is not None:
            self.on_attempt()
        keep = False
        with Deadline(self.deadline, lambda: conn.sock) as deadline:
            try:
                if conn.sock is None:
                    conn.connect()
                conn.sock.settimeout(self.read_timeout)
                conn.request("GET", target, headers=headers)
                response = conn.getresponse()
                body = response.read(self.max_body)
                # A body cut at max_body leaves bytes on the wire.
                keep = not response.will_close and response.isclosed()
                answer = response.status, response.headers, body
            except (OSError, http.client.HTTPException):
                if deadline.expired:  # the cut, not the server, broke the answer
                    raise TimeoutError(deadline.explain("")) from None
                raise
            finally:
                if not keep:
                    conn.close()
                    self._local.conn = None
        if deadline.expired:  # the body may be cut short: never parse it
            raise TimeoutError(deadline.explain(""))
        return answer

    def _json_body(self, status: int, body: bytes) -> object:
        try:
            data = json.loads(body)
        except ValueError:
            raise FetchError(
                f"{self.what} answered {status} with invalid JSON"
            ) from None
        if status != 200 and not (isinstance(data, dict) and data.get("error")):
            raise FetchError(f"{self.what} answered {status}")
        return data


def retry_after(value: str | None) -> float:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date)."""
    if not value:
        return 0.0
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else 0.0
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 0.0
    return max(0.0, when.timestamp() - time.time())
