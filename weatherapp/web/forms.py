import logging
import re
import urllib.parse
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import (
    AuthenticationForm,
    PasswordResetForm,
    UserCreationForm,
)
from django.contrib.auth.models import User
from django.http import HttpRequest

from weatherapp.alerting.netguard import Refused, check_webhook_url, public_address
from weatherapp.forecast.geocoding import real_zones
from weatherapp.models import EmailAddress, Place, validate_place_name

from . import ratelimit


class SignUpForm(UserCreationForm):
    email = forms.EmailField(
        help_text="Alerts are sent here once you follow the link we email you."
    )

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")

    def clean_email(self) -> str:
        email = User.objects.normalize_email(self.cleaned_data["email"])
        if taken(email):
            raise forms.ValidationError(
                "An account already uses this email address. Log in, or reset "
                "its password from the log-in page.",
                code="email_taken",
            )
        return email


def taken(email: str) -> bool:
    """Whether an account already has ``email`` (in any letter case)."""
    return (
        User.objects.filter(email__iexact=email).exists()
        or EmailAddress.objects.filter(email__iexact=email).exists()
    )


# (value, label): the threshold choices offered before "custom".
THRESHOLD_PRESETS = [
    ("80", "Only when very likely (80%)"),
    ("60", "Likely (60%)"),
    ("50", "Even chance (50%)"),
    ("30", "Possible (30%)"),
]
CUSTOM = "custom"
_PERCENT = re.compile(r"(\d{1,3}(?:[.,]\d{1,4})?|[.,]\d{1,4})\s*(%?)", re.ASCII)


def parse_percent(text: str) -> float:
    """A threshold typed as a percentage ("50", "50%", "37.5", "37,5 %") as
    the fraction stored (0.5). A bare number below 1 ("0.5", what this field
    took before) is already a fraction. Raises ValidationError."""
    match = _PERCENT.fullmatch(text.strip())
    if match is None:
        raise forms.ValidationError(
            "Give the threshold as a percentage from 5 to 95, e.g. 50 or 50%.",
            code="invalid",
        )
    value = float(match.group(1).replace(",", "."))
    if value < 1 and not match.group(2):
        value *= 100
    if not 5 <= value <= 95:
        raise forms.ValidationError(
            f"The threshold must be from 5% to 95% (you gave {value:g}%).",
            code="range",
        )
    return round(value / 100, 4)


def percent_text(fraction: float) -> str:
    return f"{round(fraction * 100, 2):g}"


def zone_choices(extra: str = "") -> list[tuple[str, object]]:
    """The zones a person chooses from, grouped by region ("UTC" first);
    ``extra``, a saved zone that is no longer offered, stays choosable."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for zone in real_zones():
        region, _, city = zone.partition("/")
        if city:
            groups.setdefault(region, []).append((zone, city.replace("_", " ")))
    choices: list[tuple[str, object]] = [("UTC", "UTC")]
    if extra and extra not in real_zones():
        choices.append((extra, extra))
    choices += list(groups.items())
    return choices


def place_limit_error(owner_id: int) -> forms.ValidationError | None:
    """The error for one place more than MAX_PLACES_PER_ACCOUNT, if it is."""
    limit = settings.MAX_PLACES_PER_ACCOUNT
    if Place.objects.filter(owner_id=owner_id).count() < limit:
        return None
    return forms.ValidationError(
        f"An account can have at most {limit} places; delete one before "
        f"adding another.",
        code="place_limit",
    )


class PlaceForm(forms.ModelForm):
    timezone = forms.ChoiceField(
        choices=zone_choices,
        initial="UTC",
        label="Time zone",
        help_text="Quiet hours and every time shown are in this zone.",
    )
    webhook_url = forms.URLField(
        label="Webhook URL",
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text="Optional: we POST signed JSON here when rain is likely.",
    )
    threshold_preset = forms.ChoiceField(
        label="Alert me",
        choices=[*THRESHOLD_PRESETS, (CUSTOM, "At my own threshold:")],
        required=False,
        widget=forms.RadioSelect,
    )
    threshold = forms.CharField(
        label="Own threshold (%)",
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "size": "6"}),
        help_text="How sure the model must be of rain, from 5% to 95%.",
    )

    class Meta:
        model = Place
        fields = [
            "name",
            "latitude",
            "longitude",
            "timezone",
            "threshold_preset",
            "threshold",
            "quiet_start",
            "quiet_end",
            "min_gap_hours",
            "forecaster",
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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        saved = self.instance.timezone if self.instance.pk else ""
        self.fields["timezone"].choices = zone_choices(saved)
        self.fields["forecaster"].required = False
        percent = percent_text(self.instance.threshold)  # a new place's default
        presets = {value for value, _ in THRESHOLD_PRESETS}
        self.initial.setdefault(
            "threshold_preset", percent if percent in presets else CUSTOM
        )
        self.initial["threshold"] = "" if percent in presets else percent

    def clean_forecaster(self) -> str:
        # Left out (an older form, a script): our model, the default.
        return self.cleaned_data.get("forecaster") or Place.Forecaster.MODEL

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        validate_place_name(name)
        return name

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # ModelForm.clean returns cleaned_data
        if self.instance.pk is None:  # a new place: the per-account limit
            full = place_limit_error(self.instance.owner_id)
            if full is not None:
                raise full
        self._clean_threshold(cleaned)
        start, end = cleaned.get("quiet_start"), cleaned.get("quiet_end")
        if start is not None and start == end:
            self.add_error(
                "quiet_end",
                forms.ValidationError(
                    f"Quiet hours from {start:%H:%M} to {end:%H:%M} would be no "
                    f"quiet hours at all: choose an end that differs from the "
                    f"start, or leave both empty.",
                    code="quiet_equal",
                ),
            )
            # Not also "give both ends" from Place.clean: quiet_end is left out.
            cleaned.pop("quiet_start", None)
        return cleaned

    def _clean_threshold(self, cleaned: dict) -> None:
        """A preset wins; "custom" (or no choice, as clients of the old form
        send) takes the typed percentage."""
        preset = cleaned.get("threshold_preset") or ""
        typed = (cleaned.get("threshold") or "").strip()
        if preset and preset != CUSTOM:
            cleaned["threshold"] = int(preset) / 100
            return
        if not typed:
            self.add_error(
                "threshold",
                forms.ValidationError(
                    "Pick one of the choices above, or give your own threshold "
                    "as a percentage from 5 to 95.",
                    code="required",
                ),
            )
            return
        try:
            cleaned["threshold"] = parse_percent(typed)
        except forms.ValidationError as exc:
            self.add_error("threshold", exc)

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


class ApiTokenForm(forms.Form):
    # A NUL is refused here, not by PostgreSQL (a 500); the name is shown on
    # the tokens page and in the admin, like a place's.
    name = forms.CharField(
        max_length=100,
        required=False,
        initial="API token",
        validators=[validate_place_name],
    )

    def clean_name(self) -> str:
        return self.cleaned_data["name"] or "API token"


class RateLimitedAuthenticationForm(AuthenticationForm):
    """Log-in that refuses, for a while, after too many failures for one
    username from one address, or from one address whatever the username
    (password guessing). Failures for one username from every address have a
    much higher limit, which never applies to an address that username has
    logged in from before: nobody can lock the owner out of their account."""

    throttled = False

    def clean(self) -> dict[str, Any]:
        assert self.request is not None  # LoginView passes the request
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

    def save(
        self, *args: Any, request: HttpRequest | None = None, **kwargs: Any
    ) -> None:
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
        kwargs.update(
            domain_override=site.netloc,
            use_https=site.scheme == "https",
            request=request,
        )
        super().save(*args, **kwargs)
