"""A total time limit for one conversation with another server.

Socket timeouts bound each wait, not their sum: a server that sends one byte
every four seconds never trips a 5-second read timeout and can hold a worker
for minutes. ``Deadline`` shuts the socket down when the whole conversation
has taken too long, so the blocked read returns at once and the caller's
usual error handling takes over. Standard library only: the weather source
(forecast/, no Django), webhooks and email all use it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from types import TracebackType


class Deadline:
    """``with Deadline(10, lambda: conn.sock): ...`` shuts down the socket that
    ``current_socket()`` returns if the block is still running after 10 s;
    ``expired`` then says so, for the error message."""

    def __init__(
        self, seconds: float, current_socket: Callable[[], socket.socket | None]
    ) -> None:
        self.seconds = seconds
        self._socket = current_socket
        self._timer: threading.Timer | None = None
        self.expired = False

    def _expire(self) -> None:
        self.expired = True
        sock = self._socket()
        # An already closed socket has nothing left to interrupt.
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> Deadline:
        self._timer = threading.Timer(self.seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def explain(self, problem: str) -> str:
        """``problem``, or that the deadline cut the conversation short."""
        if self.expired:
            return f"no complete answer within {self.seconds:g} s"
        return problem
