from django.contrib import admin

from .models import Alert, Place, Prediction


@admin.register(Place)
class PlaceAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "latitude", "longitude", "threshold", "active"]
    list_filter = ["active"]
    search_fields = ["name", "owner__username"]


@admin.register(Prediction)
class PredictionAdmin(admin.ModelAdmin):
    list_display = ["place", "valid_at", "probability", "model_version"]
    list_select_related = ["place"]


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["place", "event_started_at", "probability", "status", "sent_at"]
    list_filter = ["status"]
    list_select_related = ["place"]
