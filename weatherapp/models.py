import hashlib
import secrets
import unicodedata
import zoneinfo
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse

from weatherapp.forecast.variables import HORIZON_HOURS

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def validate_timezone(name: str) -> None:
    if name not in zoneinfo.available_timezones():
        raise ValidationError(f"{name!r} is not an IANA time zone", code="timezone")


# Line breaks end an email header (a name with CR or LF made every alert email
# fail); other controls and bidi overrides garble or disguise a subject line.
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def validate_place_name(name: str) -> None:
    """No control characters, line or paragraph separators, or bidi controls:
    the name goes into email subjects and headers."""
    for char in name:
        if unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp") or (
            char in _BIDI_CONTROLS
        ):
            raise ValidationError(
                f"A name cannot contain control characters such as line breaks "
                f"(found U+{ord(char):04X}).",
                code="control_character",
            )


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


class Cell(models.Model):
    """A grid square fetched once per hour for every place inside it.

    Open-Meteo's free tier allows about 10,000 calls a day per IP address (and
    Heroku apps share outbound addresses), so places share their cell's fetch.
    A cell carries its own geometry (``size`` in degrees and its centre): a
    changed CELL_DEGREES makes new cells for the places it moves and never
    reinterprets an old cell or its predictions.
    """

    size = models.FloatField(help_text="Edge in degrees (CELL_DEGREES when made).")
    lat_index = models.IntegerField()
    lon_index = models.IntegerField()
    latitude = models.FloatField(editable=False)
    longitude = models.FloatField(editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["size", "lat_index", "lon_index"], name="one_cell_per_square"
            )
        ]

    def __str__(self) -> str:
        return f"cell {self.latitude:.2f},{self.longitude:.2f}"

    @staticmethod
    def degrees() -> float:
        return settings.CELL_DEGREES

    @staticmethod
    def square(
        latitude: float, longitude: float, size: float
    ) -> dict[str, float | int]:
        """The fields of the ``size``-degree cell holding a location."""
        lat_index, lon_index = round(latitude / size), round(longitude / size)
        return {
            "size": size,
            "lat_index": lat_index,
            "lon_index": lon_index,
            "latitude": round(lat_index * size, 6),
            "longitude": round(lon_index * size, 6),
        }

    @classmethod
    def for_location(cls, latitude: float, longitude: float) -> "Cell":
        """The current grid's cell holding a location (made when new)."""
        fields = cls.square(latitude, longitude, cls.degrees())
        key = {k: fields[k] for k in ("size", "lat_index", "lon_index")}
        cell, _ = cls.objects.get_or_create(
            **key,
            defaults={"latitude": fields["latitude"], "longitude": fields["longitude"]},
        )
        return cell


class ModelVersion(models.Model):
    """A model card's version, named once and referenced by a two-byte id from
    every stored prediction (the table that grows)."""

    id = models.SmallAutoField(primary_key=True)
    name = models.CharField(max_length=64, unique=True)

    def __str__(self) -> str:
        return self.name

    @classmethod
    def named(cls, name: str) -> "ModelVersion":
        version, _ = cls.objects.get_or_create(name=name)
        return version


class Place(models.Model):
    """A location a person wants rain alerts for, with how and when to tell them."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="places"
    )
    name = models.CharField(max_length=100)
    latitude = models.FloatField(
        validators=[MinValueValidator(-90), MaxValueValidator(90)]
    )
    longitude = models.FloatField(
        validators=[MinValueValidator(-180), MaxValueValidator(180)]
    )
    timezone = models.CharField(
        max_length=64, default="UTC", validators=[validate_timezone]
    )
    threshold = models.FloatField(
        default=0.5,
        validators=[MinValueValidator(0.05), MaxValueValidator(0.95)],
        help_text="Alert when the probability of rain reaches this.",
    )
    quiet_start = models.TimeField(
        null=True, blank=True, help_text="No alerts from this local time ..."
    )
    quiet_end = models.TimeField(
        null=True, blank=True, help_text="... until this one (may wrap midnight)."
    )

    class Forecaster(models.TextChoices):
        MODEL = "model", "our rain model"
        OPEN_METEO = "open_meteo", "Open-Meteo's precipitation probability"

    forecaster = models.CharField(
        "alert on",
        max_length=16,
        choices=Forecaster.choices,
        default=Forecaster.MODEL,
        help_text=(
            "Whose probability of rain the threshold applies to. Open-Meteo's "
            "is the largest of its hourly chances over the alert horizon; "
            "where it has none (the demo's recorded weather), ours is used."
        ),
    )
    email_enabled = models.BooleanField("email alerts", default=True)
    webhook_url = models.URLField("webhook URL", blank=True, max_length=500)
    webhook_secret = models.CharField(
        max_length=64, default=new_webhook_secret, editable=False
    )
    active = models.BooleanField(default=True)
    cell = models.ForeignKey(
        Cell, on_delete=models.PROTECT, related_name="places", editable=False
    )
    min_gap_hours = models.PositiveSmallIntegerField(
        "quiet period after rain (hours)",
        default=6,
        blank=True,  # left out or empty: the default (see clean and save)
        validators=[MinValueValidator(0), MaxValueValidator(48)],
        help_text=(
            "After a rain has passed, no new alert for this many hours: rain "
            "that comes back sooner counts as the same rain (0 to 48)."
        ),
    )
    # A rain event's state (see alerting/decisions.py): what the stream of
    # predictions leaves behind, kept so a decision needs one row. Whether an
    # event is in progress; while it is, how many predictions in a row were
    # below threshold - hysteresis (EVENT_END_HOURS of them end it); and the
    # hour (valid_at) the last event ended, for min_gap_hours.
    rain_event_open = models.BooleanField(default=False, editable=False)
    event_dry_hours = models.PositiveSmallIntegerField(default=0, editable=False)
    last_event_ended_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The newest prediction hour (valid_at) this place was decided on: a
    # retried or duplicated chunk, or a cell fetched twice in an hour, never
    # decides a place twice for one hour.
    decided_through = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["cell", "active"])]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.min_gap_hours is None:  # an empty form field means the default
            self.min_gap_hours = self._meta.get_field("min_gap_hours").default
        cell = Cell.for_location(self.latitude, self.longitude)
        if self.cell_id != cell.pk:
            self.cell = cell
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "cell"}
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("place", args=[self.pk])

    def clean(self) -> None:
        # Checked here rather than as a field validator, so that no migration is
        # needed; ModelForms and the admin run clean() too.
        try:
            validate_place_name(self.name)
        except ValidationError as exc:
            raise ValidationError({"name": exc.error_list}) from None
        if self.min_gap_hours is None:  # an empty form field means the default
            self.min_gap_hours = self._meta.get_field("min_gap_hours").default
        if (self.quiet_start is None) != (self.quiet_end is None):
            # Under the end that is missing, where the person looks for it.
            empty = "quiet_start" if self.quiet_start is None else "quiet_end"
            raise ValidationError(
                {empty: "Give both ends of the quiet hours, or neither."}
            )

    def latest_prediction(self) -> "Prediction | None":
        return self.predictions().first()

    def alert_probabilities(
        self,
        probabilities: Sequence[float],
        provider: Sequence[float] | None = None,
    ) -> tuple[float, ...]:
        """The one rule for whose probabilities a place goes by (its "alert
        on" choice, ``forecaster``): every horizon of the weather source's own
        (``provider``) where the place chose it and the row has them, else
        ours. The decision, the pages, the chart and the API all read it."""
        if self.forecaster == Place.Forecaster.OPEN_METEO and provider:
            return tuple(provider)
        return tuple(probabilities)

    def alert_probability(
        self,
        probabilities: Sequence[float],
        provider: Sequence[float] | None = None,
    ) -> float:
        """The probability the place's threshold applies to: within the alert
        horizon (HORIZON_HOURS) of ``alert_probabilities``."""
        return within(self.alert_probabilities(probabilities, provider), HORIZON_HOURS)

    @property
    def latest_probability(self) -> float | None:
        """With ``paging.with_latest``'s annotations: the newest prediction's
        ``alert_probability`` (None before the first)."""
        values = getattr(self, "latest_probabilities", None)
        if values is None:
            return None
        return self.alert_probability(values, getattr(self, "latest_provider", None))

    def predictions(self) -> "models.QuerySet[Prediction]":
        """The predictions of the place's cell, newest first."""
        return Prediction.objects.filter(cell_id=self.cell_id).order_by("-valid_at")


def within(probabilities: Sequence[float], hours: int) -> float:
    """P(rain within ``hours``) from a row's probabilities for 1, 2, ... hours
    (a one-horizon model's single value answers for its own horizon)."""
    return float(probabilities[min(hours, len(probabilities)) - 1])


class Probabilities(models.BinaryField):
    """P(rain within 1, 2, ... hours) as two-byte basis points (0-10000): 12
    bytes for six horizons where six float columns take 48, in the table that
    grows with every cell and hour. Read back as a tuple of floats."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def from_db_value(
        self, value: Any, expression: Any, connection: Any
    ) -> tuple[float, ...] | None:
        if value is None:
            return None
        raw = bytes(value)
        return tuple(
            int.from_bytes(raw[i : i + 2], "little") / 10000
            for i in range(0, len(raw), 2)
        )

    def get_prep_value(self, value: Any) -> Any:
        if value is None or isinstance(value, bytes | memoryview):
            return value
        return b"".join(
            round(min(max(float(p), 0.0), 1.0) * 10000).to_bytes(2, "little")
            for p in value
        )

    def to_python(self, value: Any) -> Any:
        if isinstance(value, bytes | memoryview):
            return self.from_db_value(value, None, None)
        return value

    def value_to_string(self, obj: Any) -> str:
        value: Any = self.value_from_object(obj)
        return "" if value is None else ",".join(f"{p:.4f}" for p in value)


class Prediction(models.Model):
    """One cell's rain probabilities for the hours after ``valid_at``: every
    place in the cell reads this row (one row per cell and hour, not per
    place), pruned after PREDICTION_RETENTION_HOURS (alerting/retention.py)."""

    pk = models.CompositePrimaryKey("cell_id", "valid_at")
    # Fields in the order that packs a row tightest (fixed widths, widest
    # first, then the variable ones); the key's index serves every lookup by
    # cell, so neither foreign key gets an index of its own.
    cell = models.ForeignKey(Cell, on_delete=models.CASCADE, db_index=False)
    # UTC time of the newest observation the model read.
    valid_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    model = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, db_index=False)
    # What happened (verification): whether the last observed hour was wet
    # (rain already falling is not an onset), and once the source reported
    # the hours after valid_at, the first hour with rain (0: none in range).
    rain_hour = models.PositiveSmallIntegerField(null=True)
    raining = models.BooleanField(default=False)
    # Ours: P(rain >= 0.1 mm within k hours) for k in the model's horizons.
    probabilities = Probabilities()
    # The weather source's own forecast of the same, when it gave one.
    provider = Probabilities(null=True)

    class Meta:
        ordering = ["-valid_at"]

    def __str__(self) -> str:
        return f"{self.cell}: {self.probability:.2f} at {self.valid_at:%Y-%m-%d %H:%M}"

    @property
    def probability(self) -> float:
        """P(rain within the alert horizon, HORIZON_HOURS)."""
        return self.within(HORIZON_HOURS)

    def within(self, hours: int) -> float:
        return within(self.probabilities, hours)

    @property
    def model_version(self) -> str:
        return self.model.name


class Alert(models.Model):
    """What we told (or, in quiet hours, chose not to tell) a person about one
    rain event."""

    class Status(models.TextChoices):
        # Lower-case labels, as the pages show them.
        PENDING = "pending", "pending"
        SENT = "sent", "sent"
        SUPPRESSED = "suppressed", "suppressed (quiet hours)"
        FAILED = "failed", "failed"
        NO_CHANNEL = "no-channel", "not sent: no channel on"

    place = models.ForeignKey(Place, on_delete=models.CASCADE, related_name="alerts")
    # The hour the event opened: one alert per (place, event), enforced by the
    # database so that duplicate or retried tasks can never alert twice.
    event_started_at = models.DateTimeField()
    probability = models.FloatField()
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # When its delivery was handed to the queue: the cycle re-queues pending
    # alerts that never were (an outbox), so no alert is lost with a worker.
    queued_at = models.DateTimeField(null=True, blank=True)
    # Once verified: whether rain came within HORIZON_HOURS of the event's
    # hour and when it began (the end of its first wet hour is known, so the
    # hour it began in is: rain_began_at is that hour's start).
    verified = models.BooleanField(default=False)
    rain_began_at = models.DateTimeField(null=True, blank=True)
    # What the prediction said: P(rain within 1...6 h) and from when rain is
    # likely (the first hour reaching the threshold), kept with the alert so
    # that a retried delivery says the same as the first.
    probabilities = Probabilities(null=True)
    rain_likely_from = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-event_started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["place", "event_started_at"], name="one_alert_per_event"
            )
        ]

    def __str__(self) -> str:
        start = f"{self.event_started_at:%Y-%m-%d %H:%M}"
        return f"{self.place}: rain from {start} ({self.status})"


class Delivery(models.Model):
    """One attempt to deliver an alert through one channel, and its outcome."""

    # Lower-case labels, as the alert's statuses and the pages read them.
    class Channel(models.TextChoices):
        EMAIL = "email", "email"
        WEBHOOK = "webhook", "webhook"

    class Outcome(models.TextChoices):
        SENDING = "sending", "sending"  # claimed by a worker, no answer yet
        SENT = "sent", "sent"
        FAILED = "failed", "failed"  # may be retried
        REFUSED = "refused", "refused"  # never retried (e.g. a private address)

    alert = models.ForeignKey(
        Alert, on_delete=models.CASCADE, related_name="deliveries"
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    attempt = models.PositiveSmallIntegerField(default=1)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    detail = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"{self.channel} #{self.attempt}: {self.outcome}"


class ApiToken(models.Model):
    """A person's key to the JSON API. Only its SHA-256 is stored; the token
    itself is shown once, when it is made."""

    PREFIX = "wa_"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, default="API token")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.owner}: {self.name}"

    @staticmethod
    def digest(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    @classmethod
    def issue(cls, owner: "User", name: str = "API token") -> tuple["ApiToken", str]:
        """A new token for ``owner``: (the row, the token to show once)."""
        token = cls.PREFIX + secrets.token_urlsafe(32)
        return cls.objects.create(
            owner=owner, name=name, key_hash=cls.digest(token)
        ), token


class FaultCount(models.Model):
    """How often the cycle could not handle a cell or a place, per stage and
    day: /metrics reads it (the worker's own counters die with the worker),
    the logs say which cell or place and why. One row per stage and day."""

    class Stage(models.TextChoices):
        FETCH = "fetch"  # the cell's weather could not be had
        CELL = "cell"  # storing or deciding a cell failed
        PLACE = "place"  # deciding one place failed
        TIMEZONE = "timezone"  # a place's zone is unknown here: UTC was used
        VERIFY = "verify"  # verifying or counting inputs failed for a chunk
        CHUNK = "chunk"  # a chunk's one transaction failed: done cell by cell

    day = models.DateField()
    stage = models.CharField(max_length=16, choices=Stage.choices)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "stage"], name="one_count_a_day")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.stage}: {self.count}"


class SkillCount(models.Model):
    """Verified predictions, aggregated so that skill outlives the raw rows:
    per day (of valid_at), model version, forecaster (ours or the weather
    source's) and whether rain was already falling, a histogram over 100
    probability bins (alerting/skill.py's BINS) of the predictions at the
    alert horizon, split by outcome (rain within HORIZON_HOURS or not). AUC,
    Brier score, reliability and precision/recall at a threshold all follow
    from it (alerting/skill.py)."""

    class Forecaster(models.TextChoices):
        MODEL = "model"
        OPEN_METEO = "open_meteo", "Open-Meteo"

    day = models.DateField()
    model = models.ForeignKey(ModelVersion, on_delete=models.CASCADE)
    forecaster = models.CharField(max_length=16, choices=Forecaster.choices)
    raining = models.BooleanField()  # rain already falling: not an onset
    rain = models.JSONField(default=list)  # counts per bin, rain followed
    dry = models.JSONField(default=list)  # counts per bin, no rain followed
    # Sums of p and p squared over the bins' predictions, for an exact Brier.
    sum_p_rain = models.FloatField(default=0.0)
    sum_p_dry = models.FloatField(default=0.0)
    sum_p2 = models.FloatField(default=0.0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "model", "forecaster", "raining"],
                name="one_skill_count",
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.model} {self.forecaster} raining={self.raining}"


class FeatureCount(models.Model):
    """The live inputs' distribution per day and feature, in the bins of the
    model card's training statistics: input drift (PSI) follows from it."""

    day = models.DateField()
    feature = models.CharField(max_length=64)
    counts = models.JSONField(default=list)
    total = models.PositiveIntegerField(default=0)
    sum = models.FloatField(default=0.0)
    sum_squares = models.FloatField(default=0.0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "feature"], name="one_feature_count")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.feature}: {self.total}"


class WeatherUsage(models.Model):
    """Requests to the weather API per UTC day, and the calls Open-Meteo
    bills for them (one per location, more for many variables): what the
    daily budget is checked against, and /metrics shows."""

    day = models.DateField(unique=True)
    requests = models.PositiveIntegerField(default=0)
    calls = models.FloatField(default=0.0)

    class Meta:
        verbose_name_plural = "weather usage"

    def __str__(self) -> str:
        return f"{self.day}: {self.requests} requests, {self.calls:g} calls"


class EmailAddress(models.Model):
    """The address an account made at sign-up must prove it receives before
    alert emails go to it (the email channel refuses until then), and one
    account per address. Accounts an operator made (admin, scripts) have no
    row and are trusted; a changed address counts as unverified."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_address"
    )
    email = models.EmailField()
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "email addresses"
        constraints = [
            models.UniqueConstraint(Lower("email"), name="one_account_per_email")
        ]

    def __str__(self) -> str:
        state = "verified" if self.verified_at else "not verified"
        return f"{self.email} ({state})"

    @property
    def verified(self) -> bool:
        """Whether the account's current address is the one verified."""
        return (
            self.verified_at is not None
            and self.email.casefold() == self.user.email.casefold()
        )

    @classmethod
    def mark_verified(cls, user: Any) -> "EmailAddress":
        from django.utils import timezone

        row, _ = cls.objects.update_or_create(
            user=user, defaults={"email": user.email, "verified_at": timezone.now()}
        )
        return row
