"""System checks about the deployment (the model's own is in health.py).

Registered without ``deploy=True`` so that ``migrate`` (Heroku's release
phase) runs them too, not only ``check --deploy``.
"""

from __future__ import annotations

import ipaddress
import os
import urllib.parse
from typing import Any

from django.core import checks


def site_url_problem(site_url: str) -> str | None:
    """Why ``site_url`` cannot be the address in emails people open, if so."""
    try:
        parts = urllib.parse.urlsplit(site_url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        return f"SITE_URL {site_url!r} is not a valid URL"
    if parts.scheme not in ("http", "https") or not host:
        return f"SITE_URL {site_url!r} is not an http(s) address with a host"
    if host == "localhost" or host.endswith(".localhost"):
        return f"SITE_URL {site_url!r} points at this machine (localhost)"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if address.is_loopback or address.is_unspecified:
        return f"SITE_URL {site_url!r} points at this machine ({host})"
    return None


@checks.register(checks.Tags.security)
def check_site_url(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    """On a dyno, links in emails (alerts, unsubscribe, password reset) must
    lead to the app: an unset SITE_URL (default http://localhost:8000) stops
    the release instead of sending dead links."""
    from django.conf import settings

    if "DYNO" not in os.environ:
        return []
    if not os.environ.get("SITE_URL", "").strip():
        problem: str | None = "SITE_URL is not set"
    else:
        problem = site_url_problem(settings.SITE_URL)
    if problem is None:
        return []
    return [
        checks.Error(
            f"{problem}: links in emails would not lead to the app.",
            hint="heroku config:set SITE_URL=https://<app>.herokuapp.com",
            id="weatherapp.E002",
        )
    ]
