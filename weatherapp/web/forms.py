import zoneinfo

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.contrib.auth.models import User

from weatherapp.alerting.netguard import Refused, check_webhook_url, public_address
from weatherapp.models import Place

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


class RateLimitedAuthenticationForm(AuthenticationForm):
    """Log-in that refuses, for a while, after too many failures from one
    address or for one username (password guessing)."""

    throttled = False

    def clean(self):
        keys = [
            ("login-ip", ratelimit.client_ip(self.request)),
            ("login-user", (self.data.get("username") or "").lower()[:150]),
        ]
        limit = settings.LOGIN_RATE_LIMIT
        for scope, key in keys:
            verdict = ratelimit.peek(scope, key, limit)
            if not verdict.allowed:
                self.throttled = True
                minutes = -(-verdict.retry_after // 60)
                raise forms.ValidationError(
                    f"Too many failed log-ins. Try again in {minutes} minutes.",
                    code="throttled",
                )
        try:
            return super().clean()
        except forms.ValidationError:
            for scope, key in keys:
                ratelimit.hit(scope, key, limit)
            raise
