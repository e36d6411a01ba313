"""Fixed-window rate limits in Django's cache (Redis on Heroku).

A limit is "N/S": at most N hits per S seconds for one key. When the cache is
unreachable the limit fails open: Redis being down must not take the site down
with it. A hung Redis (it accepts connections and never answers) would still
cost every request the cache's socket timeout, so the first failure opens a
circuit breaker: for CACHE_BREAKER_SECONDS this process allows everything
without asking the cache (one log line), then tries the cache again.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest

log = logging.getLogger(__name__)

T = TypeVar("T")


class Breaker:
    """Skip the cache for a while after it failed (per process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open_until = 0.0  # time.monotonic(); 0: closed
        self.skipped = 0  # calls answered without the cache (tests, logs)

    @property
    def is_open(self) -> bool:
        return time.monotonic() < self._open_until

    def call(self, scope: str, action: Callable[[], T], fallback: T) -> T:
        """``action()``, or ``fallback`` while open or when the cache fails."""
        if self.is_open:
            with self._lock:
                self.skipped += 1
            return fallback
        try:
            result = action()
        except Exception as exc:  # any cache backend's connection error
            seconds = float(settings.CACHE_BREAKER_SECONDS)
            with self._lock:
                opened = not self.is_open  # one line even if threads race here
                self._open_until = time.monotonic() + seconds
            if opened:
                log.warning(
                    "rate limits not enforced for %g s: cache unavailable "
                    "(%s during %s: %s)",
                    seconds,
                    type(exc).__name__,
                    scope,
                    exc,
                )
            return fallback
        if self._open_until:
            with self._lock:
                reopened, self._open_until = bool(self._open_until), 0.0
            if reopened:
                log.warning("rate limits enforced again: the cache answers")
        return result

    def reset(self) -> None:
        with self._lock:
            self._open_until = 0.0
            self.skipped = 0


breaker = Breaker()


@receiver(setting_changed)
def _forget_failures(setting: str, **kwargs: object) -> None:
    # Another cache (tests swap CACHES) has not failed yet.
    if setting in ("CACHES", "CACHE_BREAKER_SECONDS"):
        breaker.reset()


def _name(scope: str, key: str, window: int | None = None) -> str:
    # Keys may come from the request (usernames, emails): hashed, they are
    # valid cache keys of bounded length whatever their characters.
    digest = hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:32]
    return f"rl:{scope}:{digest}" + ("" if window is None else f":{window}")


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int  # seconds until the window resets


def parse(limit: str) -> tuple[int, int]:
    count, _, seconds = limit.partition("/")
    return int(count), int(seconds)


def hit(scope: str, key: str, limit: str, now: float | None = None) -> Verdict:
    """Count one hit against ``limit`` for ``key``; say whether it is allowed."""
    count, seconds = parse(limit)
    now = time.time() if now is None else now
    window = int(now // seconds)
    name = _name(scope, key, window)
    retry_after = max(1, int((window + 1) * seconds - now))

    def count_hit() -> int:
        cache.add(name, 0, timeout=seconds + 1)
        return int(cache.incr(name))

    used = breaker.call(scope, count_hit, None)
    if used is None:
        return Verdict(True, 0)
    return Verdict(used <= count, retry_after)


def peek(scope: str, key: str, limit: str, now: float | None = None) -> Verdict:
    """Whether ``key`` is already over ``limit``, without counting a hit."""
    count, seconds = parse(limit)
    now = time.time() if now is None else now
    window = int(now // seconds)
    name = _name(scope, key, window)
    used = breaker.call(scope, lambda: int(cache.get(name, 0)), None)
    if used is None:
        return Verdict(True, 0)
    return Verdict(used < count, max(1, int((window + 1) * seconds - now)))


def remember(scope: str, key: str, seconds: int) -> None:
    """Note ``key`` for ``seconds`` (e.g. an address a user logged in from)."""
    breaker.call(scope, lambda: cache.set(_name(scope, key), 1, seconds), None)


def remembered(scope: str, key: str) -> bool | None:
    """Whether ``key`` was noted; None when the cache cannot say."""
    return breaker.call(scope, lambda: bool(cache.get(_name(scope, key))), None)


def client_ip(request: HttpRequest) -> str:
    """The client's address. Behind Heroku's router the last X-Forwarded-For
    entry is the one the router added (earlier ones are the client's say)."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded:
        return forwarded.rsplit(",", 1)[-1].strip()[:64]
    return request.META.get("REMOTE_ADDR", "")
