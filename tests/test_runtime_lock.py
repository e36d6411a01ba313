"""What a dyno installs, requirements.txt alone, runs every Procfile process.

The dev venv's extra packages once hid a missing one: kombu's Redis transport
imports packaging, which only celery's [redis] extra brings, so the worker and
beat died at start on Heroku while every test passed. `./dev test` installs
requirements.txt into .venv-runtime; these processes run from there.
"""

import os
import shutil
import subprocess
import time

import psycopg
import pytest

from support import (
    ROOT,
    RUN_CYCLE,
    child_env,
    free_port,
    manage,
    procfile_args,
    read_procfile,
)

from .conftest import wait_for
from .test_gunicorn import alive
from .test_worker import CREATE_PLACE, rainy_replay_with_file_mail

pytestmark = [pytest.mark.services, pytest.mark.slow]

RUNTIME = ROOT / ".venv-runtime" / "bin"


@pytest.fixture
def runtime_env(tmp_path, postgres_url, redis_url, rainy_hour) -> dict[str, str]:
    if not (RUNTIME / "python").exists():
        if os.environ.get("WEATHERALERT_RUNTIME_VENV"):  # set by ./dev test
            pytest.fail(f"{RUNTIME.parent} is missing: ./dev test installs it")
        pytest.skip("needs .venv-runtime (./dev test installs it)")
    env = child_env(
        DATABASE_URL=postgres_url,
        REDIS_URL=redis_url,
        WEATHERALERT_VAR_DIR=str(tmp_path),
        PORT=str(free_port()),
        **rainy_replay_with_file_mail(tmp_path, rainy_hour),
    )
    # The Procfile's commands resolve to the runtime venv's scripts.
    env["PATH"] = f"{RUNTIME}{os.pathsep}{env['PATH']}"
    for script in ("python", "gunicorn", "celery"):
        assert shutil.which(script, path=env["PATH"]) == str(RUNTIME / script)
    return env


def test_the_runtime_lock_alone_runs_web_worker_and_beat(
    spawn, runtime_env, postgres_url
):
    # The release line as Heroku runs it (its `python` is the runtime venv's):
    # check --deploy imports every URL, view and middleware.
    env = {
        **runtime_env,
        "SECURE_SSL_REDIRECT": "true",
        "SECRET_KEY": "c0ffee" + "0123456789abcdef" * 4,
    }
    release = subprocess.run(
        ["bash", "-c", read_procfile()["release"]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert release.returncode == 0, release.stderr
    manage(env, "shell", "-c", CREATE_PLACE)
    web = spawn("web", procfile_args("web"), env)
    worker = spawn("worker", procfile_args("worker"), env)
    beat = spawn("beat", procfile_args("beat"), env)
    wait_for(lambda: alive(int(env["PORT"])), what="gunicorn to serve\n" + web.output())
    wait_for(lambda: "ready." in worker.output(), what="the worker\n" + worker.output())
    manage(env, "shell", "-c", RUN_CYCLE)
    with psycopg.connect(postgres_url) as conn:
        wait_for(
            lambda: conn.execute(
                "select count(*) from weatherapp_prediction"
            ).fetchone()[0],
            what="a prediction from the runtime worker\n" + worker.output(),
        )
    time.sleep(1)  # beat has had its start; it must still be running
    assert beat.popen.poll() is None, beat.output()
    assert "Traceback" not in beat.output() + worker.output() + web.output()
