from django.apps import AppConfig


class WeatherappConfig(AppConfig):
    name = "weatherapp"
    verbose_name = "Weather alerts"

    def ready(self) -> None:
        from . import health  # noqa: F401 (registers the model's system check)
