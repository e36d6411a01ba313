"""What ops run: the one-dyno layout, the memory report, runtime metrics."""

import json
import sqlite3
import subprocess
import sys

import pytest

from support import ROOT, child_env, free_port, manage, read_procfile
from weatherapp.ops.memory import runtime_metrics_line, sample

from .conftest import wait_for
from .test_gunicorn import alive

pytestmark = pytest.mark.slow


def test_one_dyno_runs_web_worker_and_beat(spawn, tmp_path):
    port = free_port()
    env = child_env(
        PORT=str(port),
        WEATHERALERT_VAR_DIR=str(tmp_path),
        PREDICTION_INTERVAL_SECONDS="2",
    )
    manage(env, "migrate", "--noinput")
    manage(
        env,
        "shell",
        "-c",
        "from django.contrib.auth.models import User\n"
        "from weatherapp.models import Place\n"
        "u = User.objects.create_user('a', 'a@example.com', 'pw')\n"
        "Place.objects.create(owner=u, name='x', latitude=36.1, longitude=-79.9)\n",
    )
    dyno = spawn("one-dyno", [str(ROOT / "bin" / "one-dyno")], env)
    wait_for(lambda: alive(port), what="the web process")

    def predictions():
        with sqlite3.connect(tmp_path / "weatheralert.sqlite3") as db:
            return db.execute("select count(*) from weatherapp_prediction").fetchone()[
                0
            ]

    wait_for(predictions, what="beat and worker inside the dyno\n" + dyno.output())
    # When one process dies, the dyno exits (and Heroku restarts it).
    worker = subprocess.run(
        ["pgrep", "-f", "-P", str(dyno.popen.pid), "celery"],
        capture_output=True,
        text=True,
    ).stdout.split()
    subprocess.run(["kill", "-9", *worker], check=True)
    wait_for(lambda: dyno.popen.poll() is not None, what="the dyno to exit")


def test_dyno_memory_report(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "dyno_memory",
            "--only",
            "beat",
            "--places",
            "20",
            "--seconds",
            "2",
            "--json",
        ],
        cwd=ROOT,
        env=child_env(WEATHERALERT_VAR_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["quota_mb"] == 512
    beat = report["dynos"]["beat"]
    assert 10 < beat["peak_pss_mb"] <= beat["peak_rss_mb"] < 512


def test_dyno_memory_rejects_bad_arguments(tmp_path):
    done = subprocess.run(
        [sys.executable, "manage.py", "dyno_memory", "--seconds", "0"],
        cwd=ROOT,
        env=child_env(WEATHERALERT_VAR_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1 and "--seconds must be within" in done.stderr
    assert "Traceback" not in done.stderr


def test_runtime_metrics_line_has_herokus_shape():
    s = sample()
    assert s.processes >= 1 and s.rss_mb > 10 and s.pss_mb > 0
    line = runtime_metrics_line("web.1", s, 512)
    assert line.startswith("source=web.1 sample#memory_total=")
    assert "sample#memory_quota=512.00MB" in line
    assert line.endswith(f" mem={s.pss_mb:.0f}MB")


@pytest.mark.parametrize("warning", [None, {"SECURE_HSTS_SECONDS": "0"}])
def test_the_release_phase_stops_a_deploy_that_check_deploy_warns_about(
    tmp_path, warning
):
    """The Procfile's release line, run as Heroku runs it (bash -c)."""
    env = child_env(
        DYNO="release.1",
        SECRET_KEY="k" * 64 + "-not-a-real-secret-x9",
        DEBUG="false",
        SITE_URL="https://weatheralert.example",
        WEATHERALERT_VAR_DIR=str(tmp_path),
        **(warning or {}),
    )
    env.pop("SECURE_SSL_REDIRECT")
    line = read_procfile(ROOT / "Procfile")["release"]
    done = subprocess.run(
        ["bash", "-c", line], cwd=ROOT, env=env, capture_output=True, text=True
    )
    database = tmp_path / "weatheralert.sqlite3"
    migrated = database.exists() and bool(
        sqlite3.connect(database)
        .execute("select count(*) from sqlite_master where name='django_migrations'")
        .fetchone()[0]
    )
    if warning:
        assert done.returncode != 0 and "security.W004" in done.stderr
        assert not migrated  # nothing was migrated for a deploy that is refused
    else:
        assert done.returncode == 0, done.stderr
        assert migrated
