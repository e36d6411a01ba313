"""Server-rendered pages: a person's places and their latest probabilities."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from .models import Place


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    places = request.user.places.all()
    rows = [(place, place.latest_prediction()) for place in places]
    return render(request, "weatherapp/dashboard.html", {"rows": rows})


@login_required
def place_detail(request: HttpRequest, place_id: int) -> HttpResponse:
    # Another person's place is a 404, not a 403: its existence is private too.
    place = get_object_or_404(Place, pk=place_id, owner=request.user)
    context = {
        "place": place,
        "latest": place.latest_prediction(),
        "predictions": place.predictions.all()[:24],
        "alerts": place.alerts.all()[:20],
    }
    return render(request, "weatherapp/place.html", context)
