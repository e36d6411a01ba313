"""Server-rendered pages. People see and change only their own places: any
other id is a 404, so even the existence of someone else's place is private."""

import datetime as dt
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login, user_logged_out
from django.contrib.auth import views as auth_views
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core import signing
from django.core.paginator import Paginator
from django.db import IntegrityError, transaction
from django.db.models import Prefetch
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from weatherapp.alerting import delivery
from weatherapp.alerting.decisions import likely_from
from weatherapp.alerting.unsubscribe import read_unsubscribe_token
from weatherapp.forecast.variables import HORIZON_HOURS
from weatherapp.models import Alert, ApiToken, Delivery, Place, Prediction, within

from . import places as place_pages
from . import verification
from .charts import CHART_HOURS, probability_chart
from .clock import between, clock, shown_zone, stamp
from .forms import (
    ApiTokenForm,
    PlaceForm,
    RateLimitedAuthenticationForm,
    RateLimitedPasswordResetForm,
    SignUpForm,
    place_limit_error,
)
from .paging import whole_number, with_latest

DASHBOARD_PAGE = 50  # places per dashboard page
HORIZON = dt.timedelta(hours=HORIZON_HOURS)


@receiver(user_logged_out, dispatch_uid="weatherapp-logged-out-message")
def say_logged_out(
    sender: type[AbstractBaseUser] | type[None],
    request: HttpRequest | None,
    **kwargs: Any,
) -> None:
    """Tell the person on the next page (the log-in page) that it worked."""
    if request is not None:
        messages.info(request, "You are logged out.")


# Bad input is a 4xx: a bound form that is invalid answers 400 with the same
# page and its errors (a 200 told scripts and monitors the post worked).
BAD_INPUT = 400


def form_status(form: forms.BaseForm) -> int:
    """The status of a page showing ``form``: 400 once it was sent invalid."""
    return BAD_INPUT if form.is_bound and form.errors else 200


class InvalidFormIs400:
    """For Django's form views: an invalid form re-renders with a 400."""

    def form_invalid(self, form: forms.BaseForm) -> HttpResponse:
        response: HttpResponse = super().form_invalid(form)  # type: ignore[misc]
        response.status_code = BAD_INPUT
        return response


class RateLimitedLoginView(InvalidFormIs400, auth_views.LoginView):
    authentication_form = RateLimitedAuthenticationForm

    def form_invalid(  # type: ignore[override]  # always authentication_form
        self, form: RateLimitedAuthenticationForm
    ) -> HttpResponse:
        response = super().form_invalid(form)
        if form.throttled:
            response.status_code = 429
        return response


class PasswordResetView(InvalidFormIs400, auth_views.PasswordResetView):
    form_class = RateLimitedPasswordResetForm


class PasswordResetConfirmView(InvalidFormIs400, auth_views.PasswordResetConfirmView):
    pass


class PasswordChangeView(InvalidFormIs400, auth_views.PasswordChangeView):
    pass


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard")
    # Bound on every POST, an empty one too (it gets the form's errors, 400).
    form = SignUpForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        # Hashing the password takes ~0.3 s: before the transaction, which
        # on SQLite holds the database's write lock.
        user = form.save(commit=False)
        try:
            with transaction.atomic():
                user.save()
                verification.start(user)
        except IntegrityError:  # the same address signed up at the same moment
            form.add_error("email", "An account already uses this email address.")
        else:
            login(request, user)
            messages.success(request, "Welcome! Add a place to get rain alerts for.")
            if place_pages.send_link(request, user):
                messages.info(
                    request,
                    f"We emailed a link to {user.email}: follow it so that "
                    f"alerts can be emailed to you.",
                )
            return redirect("place-new")
    return render(
        request, "registration/signup.html", {"form": form}, status=form_status(form)
    )


def dashboard(request: HttpRequest) -> HttpResponse:
    """A page of the person's places with their latest probability, in a
    constant number of queries however many places there are; for a visitor
    who is not logged in, the landing page."""
    if not request.user.is_authenticated:
        return landing(request)
    places = with_latest(request.user.places.all())
    # get_page() turns a bad ?page= (letters, "²", 5,000 digits) into page 1
    # and one past the end into the last page.
    page = Paginator(places, DASHBOARD_PAGE).get_page(request.GET.get("page"))
    rows = [(place, _latest(place)) for place in page]
    context = {
        "rows": rows,
        "page": page,
        "horizon": HORIZON_HOURS,
        "refresh": refresh_seconds(),
        "pending_email": verification.pending(request.user),
    }
    return render(request, "weatherapp/dashboard.html", context)


def landing(request: HttpRequest) -> HttpResponse:
    """What weatheralert does, for a visitor who is not logged in."""
    return render(request, "weatherapp/landing.html", {"horizon": HORIZON_HOURS})


def refresh_seconds() -> int:
    """How often the dashboard and a place's page reload themselves: once a
    prediction cycle (PREDICTION_INTERVAL_SECONDS), at least every 15 s."""
    return max(15, round(settings.PREDICTION_INTERVAL_SECONDS))


def _latest(place: Place) -> dict | None:
    """The newest prediction's figures that ``with_latest`` annotated, with
    its window and update times in the place's zone."""
    if place.latest_valid_at is None:  # type: ignore[attr-defined]
        return None
    zone = shown_zone(place.timezone)
    valid_at = place.latest_valid_at  # type: ignore[attr-defined]
    probability = place.latest_probability or 0.0
    created_at = getattr(place, "latest_created_at", None) or valid_at
    return {
        "probability": probability,
        "above": probability >= place.threshold,
        "valid_at": valid_at,
        "window": between(valid_at, valid_at + HORIZON, zone),
        **_updates(created_at, zone),
    }


def _updates(created_at: dt.datetime, zone: dt.tzinfo) -> dict:
    """When the numbers were updated and when the next update is due."""
    due = created_at + dt.timedelta(seconds=settings.PREDICTION_INTERVAL_SECONDS)
    return {
        "updated": clock(created_at, zone),
        "next_update": clock(due, zone),
        "overdue": due < timezone.now() - dt.timedelta(minutes=1),
    }


def _alert_rows(alerts: list[Alert]) -> list[dict]:
    """Alerts as the tables show them: local times, a status that says what
    happened, and the delivery attempts."""
    return [
        {
            "alert": a,
            "when": stamp(a.event_started_at, shown_zone(a.place.timezone)),
            "status": a.get_status_display(),
            "deliveries": list(a.deliveries.all()),
            "outcome": outcome(a),
        }
        for a in alerts
    ]


def _likely_from(place: Place, latest: Prediction, zone: dt.tzinfo) -> str | None:
    """``15:00 EST`` when rain is likely from then (multi-horizon models)."""
    start = likely_from(
        latest.valid_at,
        place.alert_probabilities(latest.probabilities, latest.provider),
        place.threshold,
    )
    return None if start is None else clock(start, zone)


def outcome(alert: Alert) -> str:
    """What came of the rain an alert announced, once verified."""
    if not alert.verified:
        return "not known yet"
    if alert.rain_began_at is None:
        return f"no rain within {HORIZON_HOURS} h"
    zone = shown_zone(alert.place.timezone)
    began = alert.rain_began_at
    return f"rain began {between(began, began + dt.timedelta(hours=1), zone)}"


def own_place_or_404(request: HttpRequest, place_id: int) -> Place:
    return get_object_or_404(Place, pk=place_id, owner=request.user)


@never_cache
@login_required
def place_detail(request: HttpRequest, place_id: int) -> HttpResponse:
    place = own_place_or_404(request, place_id)
    zone = shown_zone(place.timezone)
    latest = place.latest_prediction()
    recent = list(place.predictions()[: CHART_HOURS + 1])
    series = [
        (p.valid_at, place.alert_probability(p.probabilities, p.provider))
        for p in recent
    ]
    alerts = list(
        place.alerts.prefetch_related(
            Prefetch(
                "deliveries", queryset=Delivery.objects.order_by("created_at", "id")
            )
        )[:50]
    )
    for a in alerts:
        a.place = place  # no query per row for the zone
    outlook = None
    if latest is not None:
        probability = place.alert_probability(latest.probabilities, latest.provider)
        outlook = {
            "probability": probability,
            "likely_from": _likely_from(place, latest, zone),
            "above": probability >= place.threshold,
            "provider": (
                None
                if latest.provider is None
                else within(latest.provider, HORIZON_HOURS)
            ),
            "window": between(latest.valid_at, latest.valid_at + HORIZON, zone),
            "valid_at": stamp(latest.valid_at, zone),
            **_updates(latest.created_at, zone),
        }
    chart = probability_chart(
        series,
        place.threshold,
        zone=zone,
        hysteresis=settings.ALERT_HYSTERESIS,
        horizon=HORIZON_HOURS,
        alerts=[(a.event_started_at, a.get_status_display()) for a in alerts],
    )
    context = {
        "place": place,
        "zone_name": clock(timezone.now(), zone).split(" ", 1)[1],
        "latest": latest,
        "outlook": outlook,
        "chart": chart,
        "horizon": HORIZON_HOURS,
        "alert_rows": _alert_rows(alerts),
        "chart_hours": CHART_HOURS,
        "has_channel": bool(delivery.channels(place)),
        "refresh": refresh_seconds(),
        "pending_email": verification.pending(request.user),
    }
    return render(request, "weatherapp/place.html", context)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def place_edit(request: HttpRequest, place_id: int | None = None) -> HttpResponse:
    user = cast(User, request.user)  # login_required: never AnonymousUser
    place = own_place_or_404(request, place_id) if place_id else Place(owner=user)
    # ?name=&latitude=&longitude=&timezone= is a chosen search result.
    initial = place_pages.initial_from(request.GET)
    form = PlaceForm(
        request.POST if request.method == "POST" else None,
        instance=place,
        initial=initial,
    )
    # Validated before any lock: it resolves a webhook's host, which may take
    # seconds, and on SQLite a transaction holds the database's write lock.
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            # Lock the owner while counting again, so two forms sent at once
            # cannot both pass the per-account limit.
            get_user_model().objects.select_for_update().filter(
                pk=place.owner_id
            ).first()
            full = None if place.pk else place_limit_error(place.owner_id)
            if full is None:
                place = form.save()
            else:
                form.add_error(None, full)
        if full is None:
            messages.success(request, f"Saved {place.name}.")
            place_pages.after_save(request, place)
            return redirect(place)
    context = place_pages.form_context(request, form, place)
    return render(
        request, "weatherapp/place_form.html", context, status=form_status(form)
    )


@login_required
@require_http_methods(["GET", "POST"])
def place_delete(request: HttpRequest, place_id: int) -> HttpResponse:
    place = own_place_or_404(request, place_id)
    if request.method == "POST":
        place.delete()
        messages.success(request, f"Deleted {place.name}.")
        return redirect("dashboard")
    return render(request, "weatherapp/place_delete.html", {"place": place})


@login_required
def alert_history(request: HttpRequest) -> HttpResponse:
    user = cast(User, request.user)  # login_required: never AnonymousUser
    alerts = (
        Alert.objects.filter(place__owner=user)
        .select_related("place")
        .prefetch_related("deliveries")[:200]
    )
    context = {
        "alert_rows": _alert_rows(list(alerts)),
        "pending_email": verification.pending(request.user),
    }
    return render(request, "weatherapp/alerts.html", context)


# Mail clients POST here without a session or CSRF token (RFC 8058 one-click);
# the signed token is the credential.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        place_id, owner_id = read_unsubscribe_token(token)
    except signing.BadSignature:
        return render(
            request, "weatherapp/unsubscribe.html", {"invalid": True}, status=400
        )
    place = Place.objects.filter(pk=place_id, owner_id=owner_id).first()
    if place is None:
        return render(
            request, "weatherapp/unsubscribe.html", {"invalid": True}, status=404
        )
    done = False
    if request.method == "POST":
        place.email_enabled = False
        place.save(update_fields=["email_enabled"])
        done = True
    context = {"place": place, "done": done}
    return render(request, "weatherapp/unsubscribe.html", context)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def api_token(request: HttpRequest) -> HttpResponse:
    """Make (POST) or revoke (POST revoke=<id>) the person's API tokens."""
    user = cast(User, request.user)  # login_required: never AnonymousUser
    new_token = None
    form = ApiTokenForm()
    status = 200
    if request.method == "POST":
        revoke = request.POST.get("revoke", "")
        if revoke:
            # ASCII digits of a bounded length: "²" passes isdigit() and a
            # 5,000-digit number makes int() raise (both were a 500).
            token_id = whole_number(revoke, 1)
            if token_id is None:
                return HttpResponse(
                    "revoke must be the id of one of your tokens (a whole number)",
                    status=400,
                    content_type="text/plain; charset=utf-8",
                )
            get_object_or_404(ApiToken, pk=token_id, owner=user).delete()
            messages.success(request, "Token revoked.")
            return redirect("api-token")
        form = ApiTokenForm(request.POST)
        if form.is_valid():
            _, new_token = ApiToken.issue(user, form.cleaned_data["name"])
            form = ApiTokenForm()
        else:
            status = 400
    context = {
        "tokens": user.api_tokens.all(),
        "new_token": new_token,
        "form": form,
    }
    return render(request, "weatherapp/api_token.html", context, status=status)
