from django.contrib import admin
from django.utils.html import format_html_join

from weatherapp.models import Alert, Cell, Delivery, FaultCount, Place


@admin.register(Place)
class PlaceAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "latitude", "longitude", "threshold", "active"]
    list_filter = ["active", "email_enabled"]
    search_fields = ["name", "owner__username"]
    readonly_fields = ["cell", "rain_event_open"]


# Predictions have a composite key (cell, hour), which the admin cannot list
# (Django 5.2): a cell shows its newest ones instead.
@admin.register(Cell)
class CellAdmin(admin.ModelAdmin):
    list_display = ["__str__", "size", "lat_index", "lon_index"]
    readonly_fields = ["latitude", "longitude", "recent_predictions"]

    @admin.display(description="newest predictions")
    def recent_predictions(self, cell: Cell) -> str:
        rows = cell.prediction_set.select_related("model")[:24]
        return format_html_join(
            "\n",
            "<div>{} UTC: {} ({})</div>",
            (
                (f"{p.valid_at:%Y-%m-%d %H:%M}", f"{p.probability:.0%}", p.model)
                for p in rows
            ),
        )


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
