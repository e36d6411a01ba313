from django.contrib import admin
from django.urls import include, path

from weatherapp.ops import views as ops
from weatherapp.web import api, views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("signup/", views.signup, name="signup"),
    path("places/new/", views.place_edit, name="place-new"),
    path("places/<int:place_id>/", views.place_detail, name="place"),
    path("places/<int:place_id>/edit/", views.place_edit, name="place-edit"),
    path("places/<int:place_id>/delete/", views.place_delete, name="place-delete"),
    path("alerts/", views.alert_history, name="alerts"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("account/token/", views.api_token, name="api-token"),
    path("api/v1/predict", api.predict, name="api-predict"),
    path("api/v1/places", api.places, name="api-places"),
    path("api/v1/places/<int:place_id>", api.place_detail, name="api-place"),
    path(
        "api/v1/places/<int:place_id>/predictions",
        api.place_predictions,
        name="api-place-predictions",
    ),
    path("api/v1/alerts", api.alerts, name="api-alerts"),
    path("api/v1/openapi.json", api.openapi, name="api-openapi"),
    path("healthz", ops.healthz, name="healthz"),
    path("metrics", ops.prometheus, name="metrics"),
    path("accounts/login/", views.RateLimitedLoginView.as_view(), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]
