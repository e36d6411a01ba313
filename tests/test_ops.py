"""What ops run: the one-dyno layout, the memory report, runtime metrics, the
scrape-time gauges of /metrics, and the locks that installs read."""

import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from support import ROOT, child_env, free_port, manage, read_procfile
from weatherapp.ops import metrics
from weatherapp.ops.memory import runtime_metrics_line, sample

from .conftest import wait_for
from .test_gunicorn import alive


@pytest.mark.slow
def test_one_dyno_runs_web_worker_and_beat(spawn, tmp_path):
    port = free_port()
    env = child_env(
        PORT=str(port),
        WEATHERALERT_VAR_DIR=str(tmp_path),
        PREDICTION_INTERVAL_SECONDS="2",
        RUNTIME_METRICS_INTERVAL="1",
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
    # One memory line for the whole dyno (bash, gunicorn's master and worker,
    # Celery and its beat), as Heroku's own, not one per part.
    wait_for(lambda: "sample#processes=" in dyno.output(), what=dyno.output())
    lines = [x for x in dyno.output().splitlines() if "sample#memory_total=" in x]
    assert {x.split()[0] for x in lines} == {"source=web.1"}, lines
    assert int(lines[-1].split("sample#processes=")[1].split()[0]) >= 5
    # When one process dies, the dyno exits (and Heroku restarts it).
    worker = subprocess.run(
        ["pgrep", "-f", "-P", str(dyno.popen.pid), "celery"],
        capture_output=True,
        text=True,
    ).stdout.split()
    subprocess.run(["kill", "-9", *worker], check=True)
    wait_for(lambda: dyno.popen.poll() is not None, what="the dyno to exit")


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.django_db
def test_a_registered_scrape_gauge_is_read_at_every_scrape(
    client, settings, monkeypatch
):
    """How another part of the app adds a gauge to /metrics."""
    settings.METRICS_TOKEN = "t" * 32
    for name in ("weatheralert_example_requests", "weatheralert_example_budget"):
        monkeypatch.setitem(metrics._scraped, name, None)  # gone after the test
    reads = []

    @metrics.scrape_gauge("weatheralert_example_requests", "Requests.", label="api")
    def _requests_today():
        reads.append(1)
        return {"forecast": 7, "geocoding": 2.5}

    @metrics.scrape_gauge("weatheralert_example_budget", "Daily budget.")
    def _budget():
        return 10000

    def scrape():
        response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer " + "t" * 32)
        assert response.status_code == 200
        return response.content.decode().splitlines()

    lines = scrape()
    assert "# TYPE weatheralert_example_requests gauge" in lines
    assert 'weatheralert_example_requests{api="forecast"} 7' in lines
    assert 'weatheralert_example_requests{api="geocoding"} 2.5' in lines
    assert "weatheralert_example_budget 10000" in lines
    # The metrics that were there before are still there, as they were.
    assert "# TYPE weatheralert_predictions_served_total counter" in lines
    assert 'weatheralert_alerts{status="sent"} 0' in lines
    scrape()
    assert len(reads) == 2  # read at each scrape, never cached


# The locks: requirements*.txt, compiled by `./dev lock` from their .in files.
LOCKS = {
    "requirements.txt": "requirements.in",
    "requirements-dev.txt": "requirements-dev.in",
    "requirements-litert.txt": "requirements-litert.in",
}


def asked_for(path: Path) -> dict[str, Requirement]:
    """The requirements of an .in file and the files it includes (-r)."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            found.update(asked_for(path.parent / line[3:].strip()))
        elif line and not line.startswith("-"):
            requirement = Requirement(line)
            found[canonicalize_name(requirement.name)] = requirement
    return found


def locked(path: Path) -> dict[str, tuple[str, int, set[str]]]:
    """name -> (version, number of hashes, what it is there for) in a lock."""
    entries: dict[str, tuple[str, int, set[str]]] = {}
    name = ""
    for line in path.read_text().splitlines():
        pin = re.match(r"([A-Za-z0-9._-]+)==(\S+)", line)
        if pin:
            name = canonicalize_name(pin[1])
            entries[name] = (pin[2], 0, set())
        elif "--hash=sha256:" in line:
            version, hashes, via = entries[name]
            entries[name] = (version, hashes + 1, via)
        elif re.match(r"\s+#\s+(via\s+)?\S", line):
            text = line.strip().lstrip("#").strip()
            entries[name][2].add(text.removeprefix("via").strip())
    return entries


@pytest.mark.parametrize("lock", LOCKS)
def test_each_lock_is_in_sync_with_its_in_file(lock):
    """Every package locked with its hashes; what the .in files ask for, at
    the versions they ask for, is exactly what the lock has for them (edit an
    .in file without `./dev lock` and this fails)."""
    wanted = asked_for(ROOT / LOCKS[lock])
    entries = locked(ROOT / lock)
    assert entries and all(hashes for _, hashes, _ in entries.values()), lock
    for name, requirement in wanted.items():
        assert name in entries, f"{lock} lacks {requirement}: run ./dev lock"
        version = entries[name][0]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{lock} has {name}=={version}, {LOCKS[lock]} asks for {requirement}"
        )
    direct = {
        name
        for name, (_, _, via) in entries.items()
        if any(v.startswith("-r ") for v in via)
    }
    assert direct == set(wanted), f"{lock} is stale: run ./dev lock"


def test_the_dev_lock_has_the_runtime_locks_versions():
    """The tests run what a dyno runs; CI's second runtime leaves it out."""
    runtime = locked(ROOT / "requirements.txt")
    dev = locked(ROOT / "requirements-dev.txt")
    assert {n: dev[n][0] for n in runtime} == {n: v for n, (v, _, _) in runtime.items()}
    assert "tensorflow-cpu" not in runtime and "tflite-runtime" in runtime
    litert = locked(ROOT / "requirements-litert.txt")
    assert "tflite-runtime" not in litert and litert["numpy"][0].startswith("2.")
