from django.contrib import admin
from django.urls import include, path

from weatherapp import api, views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("signup/", views.signup, name="signup"),
    path("places/new/", views.place_edit, name="place-new"),
    path("places/<int:place_id>/", views.place_detail, name="place"),
    path("places/<int:place_id>/edit/", views.place_edit, name="place-edit"),
    path("places/<int:place_id>/delete/", views.place_delete, name="place-delete"),
    path("alerts/", views.alert_history, name="alerts"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("api/v1/predict", api.predict, name="api-predict"),
    path("healthz", api.healthz, name="healthz"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]
