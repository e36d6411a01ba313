from django.contrib import admin
from django.urls import include, path

from weatherapp import api, views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("places/<int:place_id>/", views.place_detail, name="place"),
    path("api/v1/predict", api.predict, name="api-predict"),
    path("healthz", api.healthz, name="healthz"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]
