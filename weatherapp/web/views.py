"""Server-rendered pages. People see and change only their own places: any
other id is a 404, so even the existence of someone else's place is private."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.core import signing
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from weatherapp.alerting.unsubscribe import read_unsubscribe_token
from weatherapp.forecast.variables import HORIZON_HOURS
from weatherapp.models import Alert, ApiToken, Delivery, Place

from .charts import probability_chart
from .forms import PlaceForm, RateLimitedAuthenticationForm, SignUpForm


class RateLimitedLoginView(LoginView):
    authentication_form = RateLimitedAuthenticationForm

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.throttled:
            response.status_code = 429
        return response


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user)
        messages.success(request, "Welcome! Add a place to get rain alerts for.")
        return redirect("place-new")
    return render(request, "registration/signup.html", {"form": form})


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    places = request.user.places.all()
    rows = [(place, place.latest_prediction()) for place in places]
    return render(request, "weatherapp/dashboard.html", {"rows": rows})


def own_place_or_404(request: HttpRequest, place_id: int) -> Place:
    return get_object_or_404(Place, pk=place_id, owner=request.user)


@login_required
def place_detail(request: HttpRequest, place_id: int) -> HttpResponse:
    place = own_place_or_404(request, place_id)
    latest = place.latest_prediction()
    recent = list(place.predictions.all()[:48])
    series = [(p.valid_at, p.probability) for p in recent]
    alerts = place.alerts.prefetch_related(
        Prefetch("deliveries", queryset=Delivery.objects.order_by("created_at", "id"))
    )[:50]
    context = {
        "place": place,
        "latest": latest,
        "chart": probability_chart(series, place.threshold),
        "horizon": HORIZON_HOURS,
        "alerts": alerts,
    }
    return render(request, "weatherapp/place.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def place_edit(request: HttpRequest, place_id: int | None = None) -> HttpResponse:
    place = (
        own_place_or_404(request, place_id) if place_id else Place(owner=request.user)
    )
    form = PlaceForm(request.POST or None, instance=place)
    if request.method == "POST" and form.is_valid():
        place = form.save()
        messages.success(request, f"Saved {place.name}.")
        return redirect(place)
    return render(request, "weatherapp/place_form.html", {"form": form, "place": place})


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
    alerts = (
        Alert.objects.filter(place__owner=request.user)
        .select_related("place")
        .prefetch_related("deliveries")[:200]
    )
    return render(request, "weatherapp/alerts.html", {"alerts": alerts})


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


@login_required
@require_http_methods(["GET", "POST"])
def api_token(request: HttpRequest) -> HttpResponse:
    """Make (POST) or revoke (POST revoke=<id>) the person's API tokens."""
    new_token = None
    if request.method == "POST":
        revoke = request.POST.get("revoke", "")
        if revoke:
            if not revoke.isdigit():
                return HttpResponse("revoke must be a token id", status=400)
            get_object_or_404(ApiToken, pk=int(revoke), owner=request.user).delete()
            messages.success(request, "Token revoked.")
            return redirect("api-token")
        name = (request.POST.get("name") or "API token").strip()[:100] or "API token"
        _, new_token = ApiToken.issue(request.user, name)
    tokens = request.user.api_tokens.all()
    return render(
        request, "weatherapp/api_token.html", {"tokens": tokens, "new_token": new_token}
    )
