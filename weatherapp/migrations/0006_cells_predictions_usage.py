"""Cells carry their own geometry; predictions are stored per cell; weather
API usage is counted per day.

Existing cells were made at the CELL_DEGREES of this deployment, so they get
that size and the centre it implied. Each cell keeps the newest prediction per
hour of any of its places; a place remembers the newest hour it was decided
on (``decided_through``) so that it is not decided again.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.models import Max

import weatherapp.models


def cell_geometry(apps, schema_editor):
    Cell = apps.get_model("weatherapp", "Cell")
    size = settings.CELL_DEGREES
    cells = list(Cell.objects.all())
    for cell in cells:
        cell.size = size
        cell.latitude = round(cell.lat_index * size, 6)
        cell.longitude = round(cell.lon_index * size, 6)
    Cell.objects.bulk_update(cells, ["size", "latitude", "longitude"], batch_size=1000)


def per_cell_predictions(apps, schema_editor):
    Place = apps.get_model("weatherapp", "Place")
    Legacy = apps.get_model("weatherapp", "LegacyPrediction")
    Prediction = apps.get_model("weatherapp", "Prediction")
    ModelVersion = apps.get_model("weatherapp", "ModelVersion")
    versions: dict[str, int] = {}
    rows = {}
    legacy = Legacy.objects.order_by("created_at").values_list(
        "place__cell_id", "valid_at", "probability", "model_version", "created_at"
    )
    for cell_id, valid_at, probability, version, created_at in legacy.iterator():
        if version not in versions:
            versions[version] = ModelVersion.objects.get_or_create(name=version)[0].pk
        rows[cell_id, valid_at] = Prediction(
            cell_id=cell_id,
            valid_at=valid_at,
            probabilities=(probability,),
            model_id=versions[version],
            created_at=created_at,
        )
    Prediction.objects.bulk_create(rows.values(), batch_size=1000)
    newest = Legacy.objects.values("place_id").annotate(last=Max("valid_at"))
    for row in newest.iterator():
        Place.objects.filter(pk=row["place_id"]).update(decided_through=row["last"])


def brin_on_hours(apps, schema_editor):
    """Pruning and verification scan predictions by hour; rows arrive in hour
    order, so a BRIN index answers that for a few kilobytes where a B-tree
    would add ~30 bytes a row (PostgreSQL only; SQLite is for development)."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX prediction_valid_at_brin ON weatherapp_prediction "
            "USING brin (valid_at)"
        )


def drop_brin(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS prediction_valid_at_brin")


class Migration(migrations.Migration):
    dependencies = [
        ("weatherapp", "0005_email_address"),
    ]

    operations = [
        migrations.AddField(
            model_name="cell",
            name="size",
            field=models.FloatField(
                default=0.1, help_text="Edge in degrees (CELL_DEGREES when made)."
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="cell",
            name="latitude",
            field=models.FloatField(default=0.0, editable=False),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="cell",
            name="longitude",
            field=models.FloatField(default=0.0, editable=False),
            preserve_default=False,
        ),
        migrations.RunPython(cell_geometry, migrations.RunPython.noop),
        migrations.RemoveConstraint(model_name="cell", name="one_cell"),
        migrations.AddConstraint(
            model_name="cell",
            constraint=models.UniqueConstraint(
                fields=("size", "lat_index", "lon_index"), name="one_cell_per_square"
            ),
        ),
        migrations.AddField(
            model_name="place",
            name="decided_through",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.CreateModel(
            name="ModelVersion",
            fields=[
                ("id", models.SmallAutoField(primary_key=True, serialize=False)),
                ("name", models.CharField(max_length=64, unique=True)),
            ],
        ),
        migrations.RemoveConstraint(
            model_name="prediction", name="one_prediction_per_hour"
        ),
        migrations.RenameModel(old_name="Prediction", new_name="LegacyPrediction"),
        migrations.CreateModel(
            name="Prediction",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "cell_id",
                        "valid_at",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                (
                    "cell",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        to="weatherapp.cell",
                    ),
                ),
                ("valid_at", models.DateTimeField()),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "model",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        to="weatherapp.modelversion",
                    ),
                ),
                ("rain_hour", models.PositiveSmallIntegerField(null=True)),
                ("raining", models.BooleanField(default=False)),
                ("probabilities", weatherapp.models.Probabilities()),
                ("provider", weatherapp.models.Probabilities(null=True)),
            ],
            options={"ordering": ["-valid_at"]},
        ),
        migrations.RunPython(per_cell_predictions, migrations.RunPython.noop),
        migrations.DeleteModel(name="LegacyPrediction"),
        migrations.RunPython(brin_on_hours, drop_brin),
        migrations.CreateModel(
            name="WeatherUsage",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True,
                        primary_key=True,
                        serialize=False,
                        verbose_name="ID",
                    ),
                ),
                ("day", models.DateField(unique=True)),
                ("requests", models.PositiveIntegerField(default=0)),
                ("calls", models.FloatField(default=0.0)),
            ],
            options={
                "verbose_name_plural": "weather usage",
            },
        ),
    ]
