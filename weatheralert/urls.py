from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path, re_path

from weatherapp.ops import views as ops
from weatherapp.web import api, places, skill, views


def admin_login(
    request: HttpRequest, extra_context: dict | None = None
) -> HttpResponse:
    """The admin's log-in (its form is rate-limited, weatherapp/apps.py), with
    the site log-in's 429 when it refuses for too many failures and its 400
    for other bad input."""
    response = admin.site.login(request, extra_context)
    form = (getattr(response, "context_data", None) or {}).get("form")
    if getattr(form, "throttled", False):
        response.status_code = 429
    elif form is not None and response.status_code == 200:
        response.status_code = views.form_status(form)
    return response


urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("signup/", views.signup, name="signup"),
    path("places/new/", views.place_edit, name="place-new"),
    path("places/<int:place_id>/", views.place_detail, name="place"),
    path("places/<int:place_id>/edit/", views.place_edit, name="place-edit"),
    path("places/<int:place_id>/delete/", views.place_delete, name="place-delete"),
    path("places/geocode/", places.geocode, name="place-geocode"),
    path(
        "places/<int:place_id>/webhook/test/",
        places.webhook_test,
        name="place-webhook-test",
    ),
    path(
        "places/<int:place_id>/webhook/rotate/",
        places.webhook_rotate,
        name="place-webhook-rotate",
    ),
    path("verify/<str:token>/", places.verify_email, name="verify-email"),
    path("account/email/", places.email_status, name="email-status"),
    path("alerts/", views.alert_history, name="alerts"),
    path("staff/skill/", skill.skill_page, name="skill"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("account/token/", views.api_token, name="api-token"),
    path("api/v1/predict", api.predict, name="api-predict"),
    path("api/v1/places", api.places, name="api-places"),
    # Ids are read by the views, so that "abc" or a 5,000-digit number is the
    # view's JSON 404 (and another method its 405), not the catch-all's.
    path("api/v1/places/<str:place_id>", api.place_detail, name="api-place"),
    path(
        "api/v1/places/<str:place_id>/predictions",
        api.place_predictions,
        name="api-place-predictions",
    ),
    path("api/v1/alerts", api.alerts, name="api-alerts"),
    path("api/v1/openapi.json", api.openapi, name="api-openapi"),
    # Last of the API: any other path under /api/ is a JSON 404, never HTML.
    re_path(r"^api/", api.not_found, name="api-not-found"),
    path("healthz", ops.healthz, name="healthz"),
    path("metrics", ops.prometheus, name="metrics"),
    path("accounts/login/", views.RateLimitedLoginView.as_view(), name="login"),
    # Django's account views, each with a 400 for an invalid form; the rest
    # of django.contrib.auth.urls (pages without a form) as they are.
    path(
        "accounts/password_reset/",
        views.PasswordResetView.as_view(),
        name="password_reset",
    ),
    path(
        "accounts/password_change/",
        views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/login/", admin_login),
    path("admin/", admin.site.urls),
]
