import logging
import urllib.parse
import zoneinfo

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import (
    AuthenticationForm,
    PasswordResetForm,
    UserCreationForm,
)
from django.contrib.auth.models import User

from weatherapp.alerting.netguard import Refused, check_webhook_url, public_address
from weatherapp.models import Place, validate_place_name

from . import ratelimit


class SignUpForm(UserCreationForm):
    email = forms.EmailField(help_text="Alerts are sent here.")

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")


class PlaceForm(forms.ModelForm):
    timezone = forms.ChoiceField(
        choices=[(z, z) for z in sorted(zoneinfo.available_timezones())],
        initial="UTC",
        help_text="Quiet hours are in this time zone.",
    )
    webhook_url = forms.URLField(
        label="Webhook URL",
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text="Optional: we POST signed JSON here when rain is likely.",
    )
    threshold = forms.FloatField(
        min_value=0.05,
        max_value=0.95,
        initial=0.5,
        widget=forms.NumberInput(attrs={"step": "0.05"}),
        help_text="How sure the model must be, 0.05 to 0.95 (0.5 means 50%).",
    )

    class Meta:
        model = Place
        fields = [
            "name",
            "latitude",
            "longitude",
            "timezone",
            "threshold",
            "quiet_start",
            "quiet_end",
            "email_enabled",
            "webhook_url",
            "active",
        ]
        widgets = {
            "quiet_start": forms.TimeInput(attrs={"type": "time"}),
            "quiet_end": forms.TimeInput(attrs={"type": "time"}),
            "latitude": forms.NumberInput(attrs={"step": "any"}),
            "longitude": forms.NumberInput(attrs={"step": "any"}),
        }

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        validate_place_name(name)
        return name

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None:  # a new place: the per-account limit
            limit = settings.MAX_PLACES_PER_ACCOUNT
            if Place.objects.filter(owner_id=self.instance.owner_id).count() >= limit:
                raise forms.ValidationError(
                    f"An account can have at most {limit} places; delete one "
                    f"before adding another.",
                    code="place_limit",
                )
        return cleaned

    def clean_webhook_url(self) -> str:
        url = self.cleaned_data["webhook_url"]
        if url:
            try:
                parts, port = check_webhook_url(url)
                assert parts.hostname is not None  # check_webhook_url checked it
                public_address(parts.hostname, port)
            except Refused as exc:
                raise forms.ValidationError(str(exc)) from None
        return url


log = logging.getLogger(__name__)

# An address someone logged in from is spared the username-wide limit on
# failed log-ins for this long.
KNOWN_ADDRESS_SECONDS = 90 * 24 * 3600


class RateLimitedAuthenticationForm(AuthenticationForm):
    """Log-in that refuses, for a while, after too many failures for one
    username from one address, or from one address whatever the username
    (password guessing). Failures for one username from every address have a
    much higher limit, which never applies to an address that username has
    logged in from before: nobody can lock the owner out of their account."""

    throttled = False

    def clean(self):
        address = ratelimit.client_ip(self.request)
        username = (self.data.get("username") or "").strip().lower()[:150]
        pair = f"{address}\n{username}"
        counted = [
            ("login-ip-user", pair, settings.LOGIN_RATE_LIMIT),
            ("login-ip", address, settings.LOGIN_ADDRESS_RATE_LIMIT),
            ("login-user", username, settings.LOGIN_USERNAME_RATE_LIMIT),
        ]
        checked = counted[:2]
        if not ratelimit.remembered("login-known", pair):
            checked = counted
        for scope, key, limit in checked:
            verdict = ratelimit.peek(scope, key, limit)
            if not verdict.allowed:
                self.throttled = True
                minutes = -(-verdict.retry_after // 60)
                raise forms.ValidationError(
                    f"Too many failed log-ins. Try again in {minutes} minutes.",
                    code="throttled",
                )
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            for scope, key, limit in counted:
                ratelimit.hit(scope, key, limit)
            raise
        if self.user_cache is not None:
            ratelimit.remember("login-known", pair, KNOWN_ADDRESS_SECONDS)
        return cleaned


class RateLimitedAdminAuthenticationForm(
    RateLimitedAuthenticationForm, AdminAuthenticationForm
):
    """The admin's log-in (staff only), with the site log-in's limits and the
    same counters: guesses at /admin/login/ and /accounts/login/ add up."""


class RateLimitedPasswordResetForm(PasswordResetForm):
    """Sends at most PASSWORD_RESET_EMAIL_RATE_LIMIT emails to one address and
    serves one client address PASSWORD_RESET_ADDRESS_RATE_LIMIT requests; past
    either, the page is the same (no account enumeration) and nothing is sent.
    The link points at SITE_URL, never at the request's Host header."""

    def save(self, *args, request=None, **kwargs):
        address = ratelimit.client_ip(request) if request is not None else ""
        limits = [
            ("reset-ip", address, settings.PASSWORD_RESET_ADDRESS_RATE_LIMIT),
            (
                "reset-email",
                self.cleaned_data["email"].strip().lower(),
                settings.PASSWORD_RESET_EMAIL_RATE_LIMIT,
            ),
        ]
        # One after the other: a client over its own limit does not use up the
        # email address's allowance.
        for scope, key, limit in limits:
            if not ratelimit.hit(scope, key, limit).allowed:
                log.warning(
                    "password reset not sent: %s limit %s reached", scope, limit
                )
                return
        site = urllib.parse.urlsplit(settings.SITE_URL)
        kwargs.update(domain_override=site.netloc, use_https=site.scheme == "https")
        super().save(*args, request=request, **kwargs)
