"""A config var the app would misread stops the release (or the process) with
its name, in one line: never a 500 on every log-in, a worker that never
connects, or a ValueError that names no variable."""

import subprocess
import sys

import pytest

from support import ROOT, child_env
from weatherapp.ops import checks

GOOD = {
    **dict.fromkeys(checks.RATE_LIMITS, "120/60"),
    **checks.AT_LEAST,
    **dict.fromkeys(checks.ABOVE_ZERO, 1.0),
    "ALERT_HYSTERESIS": 0.1,
    "MEMORY_WARN_SHARE": 0.85,
    "WEATHER_SOURCE": "replay",
    "REDIS_URL": "rediss://:secret@example.com:6380/0",
}


def test_the_defaults_and_heroku_s_values_pass():
    assert checks.settings_problems(GOOD) == []
    assert checks.settings_problems({**GOOD, "REDIS_URL": ""}) == []


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("LOGIN_RATE_LIMIT", "5", "LOGIN_RATE_LIMIT='5' is not COUNT/SECONDS"),
        ("PREDICT_RATE_LIMIT", "5per300", "PREDICT_RATE_LIMIT='5per300' is not"),
        ("PREDICT_RATE_LIMIT", "0/60", "PREDICT_RATE_LIMIT='0/60' is not"),
        ("PREDICT_RATE_LIMIT", "²/60", "PREDICT_RATE_LIMIT='²/60' is not"),
        (
            "PREDICTION_INTERVAL_SECONDS",
            0.5,
            "PREDICTION_INTERVAL_SECONDS=0.5 is below 1",
        ),
        ("CYCLE_CHUNK_CELLS", 0, "CYCLE_CHUNK_CELLS=0 is below 1"),
        ("CELL_DEGREES", 0.0, "CELL_DEGREES=0 must be above 0"),
        ("CELL_DEGREES", float("nan"), "CELL_DEGREES=nan must be above 0"),
        ("ALERT_HYSTERESIS", 1.0, "ALERT_HYSTERESIS=1 is not in [0, 1)"),
        ("WEATHER_SOURCE", "openmeteo", "WEATHER_SOURCE='openmeteo' is not one of"),
        ("REDIS_URL", "garbage", "REDIS_URL is not a redis://"),
        ("REDIS_URL", "http://cache:6379", "REDIS_URL is not a redis://"),
    ],
)
def test_a_bad_value_is_named(name, value, problem):
    problems = checks.settings_problems({**GOOD, name: value})
    assert len(problems) == 1 and problems[0].startswith(problem), problems


def run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, cwd=ROOT, env=child_env(**env), capture_output=True, text=True, timeout=60
    )


def test_the_release_phase_stops_on_a_bad_config_var_and_says_which():
    manage = [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "ERROR"]
    done = run(manage, LOGIN_RATE_LIMIT="5", WEATHER_SOURCE="openmeteo")
    assert done.returncode == 1
    assert "(weatherapp.E010) LOGIN_RATE_LIMIT='5'" in done.stderr
    assert "(weatherapp.E010) WEATHER_SOURCE='openmeteo'" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PREDICTION_INTERVAL_SECONDS", "abc", "'abc' is not a number"),
        ("CONN_MAX_AGE", "10.5", "'10.5' is not a whole number"),
        ("WEBHOOK_TIMEOUT", "nan", "'nan' is not a finite number"),
    ],
)
def test_a_config_var_that_is_not_a_number_is_one_line(name, value, message):
    done = run([sys.executable, "manage.py", "check"], **{name: value})
    assert done.returncode == 1
    assert done.stderr.strip() == f"error: {name}={message}"


def test_gunicorn_names_a_config_var_that_is_not_a_number():
    gunicorn = ROOT / ".venv" / "bin" / "gunicorn"
    args = [str(gunicorn), "weatheralert.wsgi", "--config", "gunicorn.conf.py"]
    done = run(args, GUNICORN_THREADS="eight")
    assert done.returncode == 1
    assert (
        done.stderr.strip() == "error: GUNICORN_THREADS='eight' is not a whole number"
    )


def test_hsts_for_subdomains_and_preloading_can_be_turned_off():
    """A custom domain whose other subdomains are not all HTTPS: a choice the
    release accepts, not a warning that stops it."""
    env = {
        "DYNO": "web.1",
        "SITE_URL": "https://alerts.example.org",
        "SECRET_KEY": "3f9a1c7e5b2d8f4a6c0e9b7d5f3a1c8e6b4d2f0a9c7e5b3d1f8a6c4e",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": "false",
        "SECURE_HSTS_PRELOAD": "false",
        "SECURE_SSL_REDIRECT": "true",  # child_env's default is plain http
    }
    check = [
        sys.executable,
        "manage.py",
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
    ]
    assert run(check, **env).returncode == 0
    show = (
        "from django.conf import settings as s; "
        "print(s.SECURE_HSTS_PRELOAD, s.SECURE_HSTS_INCLUDE_SUBDOMAINS)"
    )
    assert run(
        [sys.executable, "manage.py", "shell", "-c", show], **env
    ).stdout.split()[-2:] == ["False", "False"]
    del env["SECURE_HSTS_PRELOAD"], env["SECURE_HSTS_INCLUDE_SUBDOMAINS"]
    assert run(
        [sys.executable, "manage.py", "shell", "-c", show], **env
    ).stdout.split()[-2:] == ["True", "True"]
