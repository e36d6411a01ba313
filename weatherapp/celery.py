"""The Celery app (``celery -A weatherapp worker``), configured from Django settings."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "weatheralert.settings")

app = Celery("weatherapp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
