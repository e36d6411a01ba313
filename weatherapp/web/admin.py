from django.contrib import admin

from weatherapp.models import Alert, Cell, Delivery, FaultCount, Place, Prediction


@admin.register(Place)
class PlaceAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "latitude", "longitude", "threshold", "active"]
    list_filter = ["active", "email_enabled"]
    search_fields = ["name", "owner__username"]
    readonly_fields = ["cell", "rain_event_open"]


@admin.register(Cell)
class CellAdmin(admin.ModelAdmin):
    list_display = ["__str__", "lat_index", "lon_index"]


@admin.register(Prediction)
class PredictionAdmin(admin.ModelAdmin):
    list_display = ["place", "valid_at", "probability", "model_version"]
    list_select_related = ["place"]
    date_hierarchy = "valid_at"


class DeliveryInline(admin.TabularInline):
    model = Delivery
    extra = 0
    readonly_fields = ["channel", "attempt", "outcome", "detail", "created_at"]


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["place", "event_started_at", "probability", "status", "queued_at"]
    list_filter = ["status"]
    list_select_related = ["place"]
    inlines = [DeliveryInline]


@admin.register(FaultCount)
class FaultCountAdmin(admin.ModelAdmin):
    """What the cycle could not handle, per day; the logs say which and why."""

    list_display = ["day", "stage", "count"]
    list_filter = ["stage"]
    date_hierarchy = "day"
