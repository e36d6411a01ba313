from django.apps import AppConfig


class WeatherappConfig(AppConfig):
    name = "weatherapp"
    verbose_name = "Weather alerts"

    def ready(self) -> None:
        # The model's system check; the admin lives with the other pages.
        from .ops import health  # noqa: F401
        from .web import admin  # noqa: F401
