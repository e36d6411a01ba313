from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse


class Place(models.Model):
    """A location a person wants rain alerts for."""

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
    threshold = models.FloatField(
        default=0.5,
        validators=[MinValueValidator(0.01), MaxValueValidator(0.99)],
        help_text="Alert when the probability of rain reaches this.",
    )
    active = models.BooleanField(default=True)
    # Whether a rain event is in progress (see alerts.decide); derived from the
    # stream of predictions, kept here so a decision needs one row.
    rain_event_open = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("place", args=[self.pk])

    def latest_prediction(self) -> "Prediction | None":
        return self.predictions.order_by("-valid_at").first()


class Prediction(models.Model):
    """The model's probability of rain within the horizon after ``valid_at``."""

    place = models.ForeignKey(
        Place, on_delete=models.CASCADE, related_name="predictions"
    )
    # UTC time of the newest observation the model read.
    valid_at = models.DateTimeField()
    probability = models.FloatField()
    model_version = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-valid_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["place", "valid_at"], name="one_prediction_per_hour"
            )
        ]

    def __str__(self) -> str:
        return f"{self.place}: {self.probability:.2f} at {self.valid_at:%Y-%m-%d %H:%M}"


class Alert(models.Model):
    """What we told (or would have told) a person about one rain event."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        FAILED = "failed"

    place = models.ForeignKey(Place, on_delete=models.CASCADE, related_name="alerts")
    prediction = models.ForeignKey(
        Prediction, on_delete=models.CASCADE, related_name="+"
    )
    # The hour the event opened: one alert per (place, event), enforced here so
    # that a retried or duplicated task can never alert twice.
    event_started_at = models.DateTimeField()
    probability = models.FloatField()
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING
    )
    detail = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

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
