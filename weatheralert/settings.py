"""weatheralert settings, all from the environment (Heroku config vars).

Unset, every value falls back to an embedded default that needs no server:
SQLite, a filesystem Celery broker, the offline replay weather source and
email on the console. ``DEBUG`` is off unless asked for.
"""

import os
import ssl
from pathlib import Path
from typing import Any

import dj_database_url

from weatheralert.env import ConfigVarError, env_bool, env_float, env_int, env_list

BASE_DIR = Path(__file__).resolve().parent.parent
# Local state of the embedded defaults: SQLite file, broker folders, beat schedule.
VAR_DIR = Path(os.environ.get("WEATHERALERT_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


DEBUG = env_bool("DEBUG")
# A missing secret key stops the app rather than fall back to a key that is
# public (it is in this file): always on Heroku (DYNO), and anywhere DEBUG is
# off. `./dev` and the tests set a throwaway key of their own.
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if "DYNO" in os.environ:
        raise ConfigVarError("set the SECRET_KEY config var")
    if not DEBUG:
        raise ConfigVarError(
            "SECRET_KEY is not set: set it (any long random string), or DEBUG=true "
            "for a local run (./dev run and ./dev test set a throwaway one)"
        )
    SECRET_KEY = "insecure-development-key-only-for-local-runs"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],.herokuapp.com")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "weatherapp",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "weatheralert.urls"
WSGI_APPLICATION = "weatheralert.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "weatherapp.web.context.replay",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{VAR_DIR / 'weatheralert.sqlite3'}",
        conn_max_age=env_int("CONN_MAX_AGE", "600"),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite's default deferred transactions take the write lock only at the
    # first write, and a transaction that read first cannot wait for it: two
    # people adding a place at once got "database is locked" (a 500). Taking
    # the lock at BEGIN lets the busy timeout queue writers instead; WAL lets
    # pages read while a cycle writes.
    # Defaults: what DATABASE_URL's query string gives (?timeout=) stays.
    for option, value in (
        ("transaction_mode", "IMMEDIATE"),
        ("timeout", 20),
        ("init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"),
    ):
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault(option, value)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"  # filled by collectstatic (Heroku's build)
STATIC_ROOT.mkdir(exist_ok=True)
# WhiteNoise serves the apps' static files without collectstatic (the demo).
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Requests bigger than this are refused before a view reads them.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 256 * 1024)

if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", "31536000")
    # On <app>.herokuapp.com both only cover the app's own name; on a custom
    # domain they bind every subdomain (and, once submitted to the preload
    # list, browsers for months): turn them off there unless that is meant.
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    # Turned off on purpose, they are no release-stopping warning.
    SILENCED_SYSTEM_CHECKS = [
        check
        for check, on in (
            ("security.W005", SECURE_HSTS_INCLUDE_SUBDOMAINS),
            ("security.W021", SECURE_HSTS_PRELOAD),
        )
        if not on
    ]
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Email: console unless an SMTP host is configured.
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if os.environ.get("EMAIL_HOST")
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", "587")
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
# Each SMTP wait is bounded by this; the whole conversation by DELIVERY_DEADLINE.
EMAIL_TIMEOUT = env_float("EMAIL_TIMEOUT", "10")
DEFAULT_FROM_EMAIL = os.environ.get(
    "DEFAULT_FROM_EMAIL", "weatheralert <alerts@localhost>"
)

# The cache holds rate-limit counters: Redis when REDIS_URL is set (shared by
# every dyno), else this process's memory. A hung Redis (accepting connections
# but never answering) costs a request at most these waits; after one failure
# the rate limits leave the cache alone for CACHE_BREAKER_SECONDS (fail open).
CACHE_CONNECT_TIMEOUT = env_float("CACHE_CONNECT_TIMEOUT", "0.25")
CACHE_TIMEOUT = env_float("CACHE_TIMEOUT", "0.25")
CACHE_BREAKER_SECONDS = env_float("CACHE_BREAKER_SECONDS", "30")
CACHES: dict[str, dict[str, Any]] = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "OPTIONS": {
                "socket_connect_timeout": CACHE_CONNECT_TIMEOUT,
                "socket_timeout": CACHE_TIMEOUT,
            },
        }
        if os.environ.get("REDIS_URL")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
if os.environ.get("REDIS_URL", "").startswith("rediss://"):
    # Heroku Redis serves TLS with a self-signed certificate.
    CACHES["default"]["OPTIONS"]["ssl_cert_reqs"] = None
# Places one account may have (the place form refuses more): each is work in
# every cycle and rows on every dashboard.
MAX_PLACES_PER_ACCOUNT = env_int("MAX_PLACES_PER_ACCOUNT", "25")
# "N/S": N per S seconds. Predictions per client address. Failed log-ins (the
# site's and the admin's, counted together) per address and username, per
# address whatever the username, and per username from every address except
# those it has logged in from before (so nobody can lock its owner out).
PREDICT_RATE_LIMIT = os.environ.get("PREDICT_RATE_LIMIT", "120/60")
LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "5/300")
LOGIN_ADDRESS_RATE_LIMIT = os.environ.get("LOGIN_ADDRESS_RATE_LIMIT", "20/300")
LOGIN_USERNAME_RATE_LIMIT = os.environ.get("LOGIN_USERNAME_RATE_LIMIT", "100/3600")
# Password-reset requests (each sends at most one email) per email address and
# per client address; over either, the same page is shown and nothing is sent.
PASSWORD_RESET_EMAIL_RATE_LIMIT = os.environ.get(
    "PASSWORD_RESET_EMAIL_RATE_LIMIT", "3/3600"
)
PASSWORD_RESET_ADDRESS_RATE_LIMIT = os.environ.get(
    "PASSWORD_RESET_ADDRESS_RATE_LIMIT", "10/3600"
)
# /metrics answers a staff session or `Authorization: Bearer $METRICS_TOKEN`.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")

# Celery: Redis when REDIS_URL is set, else kombu's filesystem transport, which
# runs a real worker and beat with no server at all.
REDIS_URL = os.environ.get("REDIS_URL", "")
CELERY_BROKER_URL = REDIS_URL or "filesystem://"
# A task not acknowledged within this time (its worker was killed) is
# delivered again. It must exceed the longest countdown (webhook backoff).
BROKER_VISIBILITY_TIMEOUT = env_int("BROKER_VISIBILITY_TIMEOUT", "3600")
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {
    "visibility_timeout": BROKER_VISIBILITY_TIMEOUT,
    # Look for such tasks every few seconds (kombu's default: every 100 s).
    "unacked_restore_interval": min(10, max(1, BROKER_VISIBILITY_TIMEOUT // 3)),
    "unacked_restore_throttle": 1,
    "socket_timeout": 10,
    "socket_connect_timeout": 5,
    "health_check_interval": 25,
}
# When Redis goes away, retry for ever: the worker comes back by itself.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
if not REDIS_URL:
    for folder in ("broker", "broker-processed", "broker-control"):
        (VAR_DIR / folder).mkdir(exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(VAR_DIR / "broker"),
        "data_folder_out": str(VAR_DIR / "broker"),
        "processed_folder": str(VAR_DIR / "broker-processed"),
        "store_processed": False,
        "control_folder": str(VAR_DIR / "broker-control"),
        # The folder is polled; kombu's default of 1 s caps a worker at 1 task/s.
        "polling_interval": 0.05,
    }
if REDIS_URL.startswith("rediss://"):
    # Heroku Redis serves TLS with a self-signed certificate.
    CELERY_BROKER_USE_SSL = {"ssl_cert_reqs": ssl.CERT_NONE}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery logs what its processes print (the memory lines) at this level.
CELERY_WORKER_REDIRECT_STDOUTS_LEVEL = "INFO"
# The threads pool keeps the worker dyno one process: 87 MB PSS against
# prefork's 124 MB (a main process plus a forked child) over a 10,000-place
# cycle (docs/PERFORMANCE.md). Tasks are bounded by their network timeouts;
# prefork, which also enforces hard time limits, is CELERY_POOL=prefork.
CELERY_WORKER_POOL = os.environ.get("CELERY_POOL", "threads")
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_TASK_TIME_LIMIT = 90
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TASK_REJECT_ON_WORKER_LOST = True  # a killed worker's chunk runs again
# How often beat starts a prediction cycle for every active place.
PREDICTION_INTERVAL_SECONDS = env_float("PREDICTION_INTERVAL_SECONDS", "600")
CELERY_BEAT_SCHEDULE = {
    "cycle": {
        "task": "weatherapp.tasks.run_cycle",
        "schedule": PREDICTION_INTERVAL_SECONDS,
        # A cycle not started before the next one is due is dropped, not queued.
        "options": {"expires": PREDICTION_INTERVAL_SECONDS},
    },
    "prune": {
        "task": "weatherapp.tasks.prune_predictions",
        "schedule": 3600.0,
        "options": {"expires": 3600.0},
    },
}
# Raw predictions (one row per cell and hour) older than this are deleted: the
# place page shows 12 hours, verification needs the 6 hours after a row (and
# 4 more for a late hour); docs/PERFORMANCE.md: what it costs at 100,000 places.
PREDICTION_RETENTION_HOURS = env_float("PREDICTION_RETENTION_HOURS", "16")

# Memory lines like Heroku's log-runtime-metrics, and an R14-like warning.
RUNTIME_METRICS_INTERVAL = env_float("RUNTIME_METRICS_INTERVAL", "20")
DYNO_MEMORY_QUOTA_MB = env_float("DYNO_MEMORY_QUOTA_MB", "512")
MEMORY_WARN_SHARE = env_float("MEMORY_WARN_SHARE", "0.85")

# The rain model (its card sits beside it as rain_int8.json).
MODEL_PATH = os.environ.get("MODEL_PATH", str(BASE_DIR / "models" / "rain_int8.tflite"))

# Places are grouped in square cells of this many degrees (0.1° is ~11 km);
# each cell's weather is fetched once per cycle, and a cycle's chunk task
# handles up to CYCLE_CHUNK_CELLS cells so that worker dynos share the work.
CELL_DEGREES = env_float("CELL_DEGREES", "0.1")
CYCLE_CHUNK_CELLS = env_int("CYCLE_CHUNK_CELLS", "200")
# A chunk stops fetching after this long (cells left over wait a cycle).
CHUNK_FETCH_SECONDS = env_float("CHUNK_FETCH_SECONDS", "180")

# Weather source: "replay" serves the committed observations on a clock that
# may run faster than real time (WEATHER_REPLAY_SPEED hours per hour);
# "open-meteo" asks OPEN_METEO_URL.
WEATHER_SOURCE = os.environ.get("WEATHER_SOURCE", "replay")
# With an API key (Open-Meteo's commercial plans) requests go to the customer
# endpoint and carry the key; without one, to the free API.
OPEN_METEO_API_KEY = os.environ.get("OPEN_METEO_API_KEY", "")
OPEN_METEO_URL = os.environ.get(
    "OPEN_METEO_URL",
    "https://customer-api.open-meteo.com"
    if OPEN_METEO_API_KEY
    else "https://api.open-meteo.com",
)
# Locations per forecast request (Open-Meteo takes up to 1,000; it bills one
# call per location either way, but every request saved is a round trip).
OPEN_METEO_LOCATIONS_PER_REQUEST = env_int("OPEN_METEO_LOCATIONS_PER_REQUEST", "100")
# Calls a day we may make (the free tier's is 10,000 per address); a warning
# is logged once a day when this share of it is used (also on /metrics).
OPEN_METEO_DAILY_BUDGET = env_float("OPEN_METEO_DAILY_BUDGET", "10000")
OPEN_METEO_BUDGET_WARN_SHARE = env_float("OPEN_METEO_BUDGET_WARN_SHARE", "0.8")
# The place form's search by name (Open-Meteo's geocoding API), with the
# OPEN_METEO_* timeouts and backoff; not asked when WEATHER_SOURCE is "replay".
OPEN_METEO_GEOCODING_URL = os.environ.get(
    "OPEN_METEO_GEOCODING_URL", "https://geocoding-api.open-meteo.com"
)
OPEN_METEO_CONNECT_TIMEOUT = env_float("OPEN_METEO_CONNECT_TIMEOUT", "3.05")
OPEN_METEO_READ_TIMEOUT = env_float("OPEN_METEO_READ_TIMEOUT", "10")
OPEN_METEO_RETRIES = env_int("OPEN_METEO_RETRIES", "3")
OPEN_METEO_BACKOFF = env_float("OPEN_METEO_BACKOFF", "0.5")
# One request's whole conversation, however slowly the server drips bytes.
OPEN_METEO_DEADLINE = env_float("OPEN_METEO_DEADLINE", "30")
USER_AGENT = os.environ.get("USER_AGENT", "weatheralert/0.1 (rain alerts; Django)")
WEATHER_REPLAY_PATH = os.environ.get(
    "WEATHER_REPLAY_PATH", str(BASE_DIR / "data" / "greensboro_723170_hourly.csv")
)
WEATHER_REPLAY_SPEED = env_float("WEATHER_REPLAY_SPEED", "1")
# Unix time at which the replay shows WEATHER_REPLAY_START (an hour of the file).
WEATHER_REPLAY_ANCHOR = env_float("WEATHER_REPLAY_ANCHOR", "0")
WEATHER_REPLAY_START = os.environ.get("WEATHER_REPLAY_START", "")

# An event stays open until p falls below threshold - hysteresis, so a
# probability wobbling around the threshold does not alert twice.
ALERT_HYSTERESIS = env_float("ALERT_HYSTERESIS", "0.1")
# ... and ends only after this many hourly predictions in a row below it, so
# one dip does not make one rain two (each place also waits min_gap_hours).
EVENT_END_HOURS = env_int("EVENT_END_HOURS", "2")  # >= 1 (system check E010)

# Links in emails (unsubscribe, password reset) need the site's public address;
# the request's Host header is not trusted for them.
SITE_URL = os.environ.get("SITE_URL", "http://localhost:8000").rstrip("/")
UNSUBSCRIBE_MAX_AGE_DAYS = env_int("UNSUBSCRIBE_MAX_AGE_DAYS", "60")
WEBHOOK_TIMEOUT = env_float("WEBHOOK_TIMEOUT", "5")
WEBHOOK_RETRIES = env_int("WEBHOOK_RETRIES", "4")
WEBHOOK_BACKOFF = env_float("WEBHOOK_BACKOFF", "30")
# One delivery attempt (a webhook POST or an email) takes at most this long in
# all, so a slow receiver cannot hold the worker; an attempt still unanswered
# after twice this (its worker died) counts as interrupted.
DELIVERY_DEADLINE = env_float("DELIVERY_DEADLINE", "15")
# The cycle re-queues an alert whose delivery was never queued (its worker
# died between the commit and the queue) once it is this old.
OUTBOX_GRACE_SECONDS = env_int("OUTBOX_GRACE_SECONDS", "60")
# Webhooks to loopback, private, link-local or metadata addresses are refused
# (SSRF); only tests or a private deployment should turn this on.
WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
