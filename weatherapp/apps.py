from django.apps import AppConfig


class WeatherappConfig(AppConfig):
    name = "weatherapp"
    verbose_name = "Weather alerts"

    def ready(self) -> None:
        # The model's and the deployment's system checks; the admin lives
        # with the other pages.
        from django.contrib import admin as admin_site

        from .ops import checks, health  # noqa: F401
        from .web import admin  # noqa: F401
        from .web.forms import RateLimitedAdminAuthenticationForm

        # Staff log-ins count against the same limits as everyone's.
        admin_site.site.login_form = RateLimitedAdminAuthenticationForm
