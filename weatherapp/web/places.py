"""The place form's helpers and its side pages: the search by name, the
webhook's test and secret, and the email address's verification."""

from __future__ import annotations

import logging
import math
import urllib.parse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from weatherapp.alerting import delivery
from weatherapp.forecast.geocoding import (
    MAX_QUERY,
    REPLAY_STATION,
    Found,
    GeocodingError,
    OpenMeteoGeocoder,
    is_zone,
)
from weatherapp.models import Place, new_webhook_secret

from . import ratelimit, verification
from .webhook_check import send_check

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from .forms import PlaceForm

log = logging.getLogger(__name__)

# Searches one account may make a minute: each asks Open-Meteo, whose free
# tier (about 10,000 calls a day) the whole deployment shares.
GEOCODE_LIMIT = "20/60"
# Test POSTs one account may send a minute: not a way to hammer a server.
WEBHOOK_CHECK_LIMIT = "10/60"
# A person waits for the search: fewer retries and a shorter total than the
# cycle's weather requests.
GEOCODE_MAX_RETRIES = 2
GEOCODE_MAX_DEADLINE = 8.0
GEOCODE_MAX_WAIT = 2.0


@dataclass
class Search:
    query: str = ""
    results: list[Found] = field(default_factory=list)
    message: str = ""
    offline: bool = False


def geocoder() -> OpenMeteoGeocoder:
    return OpenMeteoGeocoder(
        settings.OPEN_METEO_GEOCODING_URL,
        connect_timeout=settings.OPEN_METEO_CONNECT_TIMEOUT,
        read_timeout=settings.OPEN_METEO_READ_TIMEOUT,
        retries=min(settings.OPEN_METEO_RETRIES, GEOCODE_MAX_RETRIES),
        backoff=settings.OPEN_METEO_BACKOFF,
        max_wait=GEOCODE_MAX_WAIT,
        user_agent=settings.USER_AGENT,
        deadline=min(settings.OPEN_METEO_DEADLINE, GEOCODE_MAX_DEADLINE),
    )


def search(request: HttpRequest, query: str) -> Search:
    """Places called ``query``, or a message saying why there are none.
    Never raises: a search that fails is a sentence on the page."""
    query = " ".join(query.split())[:MAX_QUERY]
    found = Search(query=query)
    if not query:
        return found
    if settings.WEATHER_SOURCE == "replay":
        # The replayed observations are one station's: anywhere else would
        # get Greensboro's weather under another name.
        found.offline = True
        found.results = [REPLAY_STATION]
        found.message = (
            "The weather here is replayed from one station (offline mode), so "
            "the search offers only that station."
        )
        return found
    if len(query) < 2:
        found.message = "Type at least two letters of the place's name."
        return found
    verdict = ratelimit.hit("geocode", str(request.user.pk), GEOCODE_LIMIT)
    if not verdict.allowed:
        found.message = (
            f"Too many searches in a row: try again in {verdict.retry_after} s, "
            f"or enter the latitude and longitude yourself."
        )
        return found
    try:
        found.results = geocoder().search(query)
    except (GeocodingError, ValueError) as exc:  # ValueError: a bad setting
        log.warning("place search for %r failed: %s", query, exc)
        found.message = (
            "The place search is not available right now. Try again in a "
            "minute, or enter the latitude and longitude yourself."
        )
        return found
    if not found.results:
        found.message = (
            f"No place called “{query}” was found. Check the spelling, or try "
            f"the nearest town."
        )
    return found


def fill_link(place: Found) -> str:
    """The query string that fills the place form with ``place``."""
    values = {
        "name": place.name,
        "latitude": f"{place.latitude:.4f}",
        "longitude": f"{place.longitude:.4f}",
    }
    if place.timezone:
        values["timezone"] = place.timezone
    return "?" + urllib.parse.urlencode(values)


def initial_from(query: QueryDict) -> dict[str, object]:
    """What a chosen search result (``?name=&latitude=&longitude=&timezone=``)
    puts in the form; anything malformed is left out, never an error."""
    initial: dict[str, object] = {}
    name = " ".join(query.get("name", "").split())[:100]
    if name:
        initial["name"] = name
    for key, limit in (("latitude", 90.0), ("longitude", 180.0)):
        text = query.get(key, "")[:30]
        try:
            value = float(text)
        except ValueError:
            continue
        if math.isfinite(value) and -limit <= value <= limit:
            initial[key] = round(value, 4)
    zone = query.get("timezone", "")
    if is_zone(zone):
        initial["timezone"] = zone
    return initial


def form_context(
    request: HttpRequest, form: PlaceForm, place: Place
) -> dict[str, object]:
    found = search(request, request.GET.get("q", ""))
    results = [(r, fill_link(r)) for r in found.results]
    return {
        "form": form,
        "place": place,
        "search": found,
        "results": results,
        "pending_email": verification.pending(request.user),
        "no_channel": place.pk is not None and not delivery.channels(place),
        # A new place's zone is the browser's (the script), unless a chosen
        # search result gave one.
        "zone_from_browser": place.pk is None
        and not form.is_bound
        and not is_zone(request.GET.get("timezone", "")),
    }


def after_save(request: HttpRequest, place: Place) -> None:
    """Say, after saving, what would stop alerts from reaching the person."""
    if not delivery.channels(place):
        messages.warning(
            request,
            f"{place.name} has no channel on: email alerts are off and there is "
            f"no webhook, so rain alerts for it reach nobody. Turn email on or "
            f"add a webhook URL.",
        )
    elif place.email_enabled and verification.pending(request.user):
        messages.warning(
            request,
            f"Alert emails for {place.name} wait until you confirm your address "
            f"with the link we emailed you.",
        )


@login_required
@require_http_methods(["GET"])
def geocode(request: HttpRequest) -> JsonResponse:
    """The search as JSON for the form's script (the page works without it)."""
    found = search(request, request.GET.get("q", ""))
    results = [
        {
            "name": r.name,
            "label": r.label,
            "latitude": round(r.latitude, 4),
            "longitude": round(r.longitude, 4),
            "timezone": r.timezone,
            "link": fill_link(r),
        }
        for r in found.results
    ]
    return JsonResponse(
        {"query": found.query, "results": results, "message": found.message}
    )


def _own(request: HttpRequest, place_id: int) -> Place:
    return get_object_or_404(Place, pk=place_id, owner=request.user)


@login_required
@require_POST
def webhook_test(request: HttpRequest, place_id: int) -> HttpResponse:
    place = _own(request, place_id)
    edit = reverse("place-edit", args=[place.pk])
    if not place.webhook_url:
        messages.error(request, "Save a webhook URL first, then send a test.")
        return redirect(edit)
    verdict = ratelimit.hit("webhook-test", str(request.user.pk), WEBHOOK_CHECK_LIMIT)
    if not verdict.allowed:
        messages.error(
            request, f"Too many tests: try again in {verdict.retry_after} s."
        )
        return redirect(edit)
    ok, outcome = send_check(place)
    if ok:
        messages.success(request, f"Test sent to {place.webhook_url}: {outcome}.")
    else:
        messages.error(
            request, f"Test to {place.webhook_url} did not arrive: {outcome}."
        )
    return redirect(edit)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def webhook_rotate(request: HttpRequest, place_id: int) -> HttpResponse:
    """GET asks to confirm; POST (with its CSRF token) makes a new secret."""
    place = _own(request, place_id)
    if request.method == "POST":
        place.webhook_secret = new_webhook_secret()
        place.save(update_fields=["webhook_secret"])
        messages.success(
            request,
            "New webhook secret made: the old one no longer signs anything. "
            "Give your receiver the new one.",
        )
        return redirect("place-edit", place.pk)
    return render(request, "weatherapp/webhook_rotate.html", {"place": place})


def verify_email(request: HttpRequest, token: str) -> HttpResponse:
    """The emailed link: works without logging in (it is the credential)."""
    try:
        user = verification.verify(token)
    except verification.Invalid as exc:
        context = {"problem": str(exc), "expired": exc.expired}
        return render(request, "weatherapp/verify_email.html", context, status=400)
    return render(request, "weatherapp/verify_email.html", {"verified": user.email})


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def email_status(request: HttpRequest) -> HttpResponse:
    """Whether the address is verified; POST sends the link again."""
    user: Any = request.user  # login_required: a User
    pending = verification.pending(user)
    if request.method == "POST" and pending is not None:
        verdict = ratelimit.hit(
            "verify-resend", str(request.user.pk), verification.RESEND_LIMIT
        )
        if not verdict.allowed:
            minutes = -(-verdict.retry_after // 60)
            messages.error(request, f"Too many emails: try again in {minutes} minutes.")
        elif send_link(request, user):
            messages.success(request, f"We sent a new link to {user.email}.")
        return redirect("email-status")
    return render(request, "weatherapp/email_status.html", {"pending": pending})


def send_link(request: HttpRequest, user: User) -> bool:
    """Email the verification link; a mail server that fails is a message,
    never a 500 (the resend button tries again)."""
    try:
        verification.send_link(user)
    except (OSError, ValueError) as exc:  # smtplib's errors are OSErrors
        log.warning("verification email to user %s failed: %s", user.pk, exc)
        messages.error(
            request,
            "We could not send the confirmation email just now; use “send the "
            "link again” on your account's email page in a while.",
        )
        return False
    return True
