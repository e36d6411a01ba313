"""Fixed-window rate limits in Django's cache (Redis on Heroku).

A limit is "N/S": at most N hits per S seconds for one key. When the cache is
unreachable the limit fails open, with a log line: Redis being down must not
take the site down with it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.core.cache import cache
from django.http import HttpRequest

log = logging.getLogger(__name__)


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
    name = f"rl:{scope}:{key}:{window}"
    retry_after = max(1, int((window + 1) * seconds - now))
    try:
        cache.add(name, 0, timeout=seconds + 1)
        used = cache.incr(name)
    except Exception as exc:  # any cache backend's connection error
        log.warning("rate limit %s not enforced: cache unavailable (%s)", scope, exc)
        return Verdict(True, 0)
    return Verdict(used <= count, retry_after)


def peek(scope: str, key: str, limit: str, now: float | None = None) -> Verdict:
    """Whether ``key`` is already over ``limit``, without counting a hit."""
    count, seconds = parse(limit)
    now = time.time() if now is None else now
    window = int(now // seconds)
    try:
        used = cache.get(f"rl:{scope}:{key}:{window}", 0)
    except Exception as exc:
        log.warning("rate limit %s not enforced: cache unavailable (%s)", scope, exc)
        return Verdict(True, 0)
    return Verdict(used < count, max(1, int((window + 1) * seconds - now)))


def client_ip(request: HttpRequest) -> str:
    """The client's address. Behind Heroku's router the last X-Forwarded-For
    entry is the one the router added (earlier ones are the client's say)."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded:
        return forwarded.rsplit(",", 1)[-1].strip()[:64]
    return request.META.get("REMOTE_ADDR", "")
