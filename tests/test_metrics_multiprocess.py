"""/metrics through the Procfile's web line (gunicorn.conf.py) with two
workers: whichever worker answers a scrape reports the whole dyno's counters
(prometheus_client's multiprocess mode), also after a worker is replaced."""

import http.client
import json
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from support import ROOT, child_env, free_port, manage, open_meteo_body, read_procfile
from weatherapp.ops.memory import children

from .conftest import wait_for

pytestmark = pytest.mark.slow

TOKEN = "metrics-token-for-the-multiprocess-test"


def request(port, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def scrape(port):
    status, body = request(port, "GET", "/metrics")
    assert status == 200, body
    return dict(
        line.rsplit(" ", 1)
        for line in body.decode().splitlines()
        if line and not line.startswith("#")
    )


def served(values):
    return int(values["weatheralert_predictions_served_total"])


def per_worker(directory):
    """Predictions served by each worker, read from its own counter file."""
    from prometheus_client.multiprocess import MultiProcessCollector

    counts = {}
    for path in Path(directory).glob("counter_*.db"):
        pid = int(path.stem.split("_")[1])
        for metric in MultiProcessCollector.merge([str(path)]):
            for sample in metric.samples:
                if sample.name == "weatheralert_predictions_served_total":
                    counts[pid] = int(sample.value)
    return counts


def worker_pids(master):
    return sorted(children(master))


@pytest.fixture
def start_web(spawn, tmp_path):
    """The Procfile's web line with two workers (a new one on each call)."""
    manage(child_env(WEATHERALERT_VAR_DIR=str(tmp_path)), "migrate", "--noinput")

    def start(name="web", **extra):
        port = free_port()
        env = child_env(
            PORT=str(port),
            GUNICORN_CMD_ARGS=f"--bind 127.0.0.1:{port}",
            WEATHERALERT_VAR_DIR=str(tmp_path),
            WEB_CONCURRENCY="2",
            GUNICORN_THREADS="4",
            METRICS_TOKEN=TOKEN,
            PREDICT_RATE_LIMIT="1000000000/60",
            RUNTIME_METRICS_INTERVAL="0",
        )
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        env.update(extra)
        process = spawn(name, read_procfile(ROOT / "Procfile")["web"].split(), env)
        wait_for(
            lambda: len(worker_pids(process.popen.pid)) == 2 and _healthy(port),
            what="gunicorn's two workers",
        )
        return port, process

    return start


def _healthy(port):
    try:
        return request(port, "GET", "/healthz")[0] == 200
    except OSError:
        return False


def predict_until_both_workers_served(port, directory, bodies):
    """Predictions from concurrent clients, each on its own connection, until
    both workers have answered some (the kernel picks the worker); how many."""
    made = 0
    with ThreadPoolExecutor(8) as pool:
        for _ in range(20):
            statuses = list(
                pool.map(lambda b: request(port, "POST", "/api/v1/predict", b), bodies)
            )
            assert all(status == 200 for status, _ in statuses), statuses[:3]
            made += len(statuses)
            live = [n for n in per_worker(directory).values() if n > 0]
            if len(live) >= 2:
                return made
    pytest.fail("every prediction went to one worker")


def test_metrics_sum_every_worker_and_survive_a_replaced_one(
    start_web, hours, tmp_path
):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    port, web = start_web(TMPDIR=str(temporary))
    master = web.popen.pid
    pids = worker_pids(master)
    # No PROMETHEUS_MULTIPROC_DIR given: gunicorn.conf.py made a private one.
    (directory,) = temporary.glob("weatheralert-metrics-*")
    assert served(scrape(port)) == 0

    bodies = [json.dumps(open_meteo_body(hours, e)) for e in range(3000, 3024)]
    made = predict_until_both_workers_served(port, directory, bodies)
    counts = per_worker(directory)
    assert sum(counts.values()) == made and len(counts) == 2
    # Each worker alone served fewer than that, yet every scrape, whichever
    # worker answers it, reports the sum over both.
    assert all(0 < n < made for n in counts.values()), counts
    for _ in range(10):
        values = scrape(port)
        assert served(values) == made
        assert int(values["weatheralert_inference_seconds_count"]) == made
        assert int(values['weatheralert_inference_seconds_bucket{le="+Inf"}']) == made
        assert int(values["weatheralert_windows_scored_total"]) == made
        # The database's figures and the answering process's own are there too.
        assert values['weatheralert_alerts{status="sent"}'] == "0"
        assert values['weatheralert_cycle_faults_total{stage="fetch"}'] == "0"
        assert int(values["process_resident_memory_bytes"]) > 10 * 2**20
        assert values["weatheralert_model_loaded"] in ("0", "1")

    # A worker killed (as max_requests recycles one, or a crash): gunicorn
    # starts another; the dead worker's predictions still count, and a "live"
    # gauge it kept is dropped (gunicorn.conf.py's child_exit).
    from prometheus_client.mmap_dict import MmapedDict

    MmapedDict(str(directory / f"gauge_livesum_{pids[0]}.db")).close()
    os.kill(pids[0], signal.SIGKILL)
    wait_for(
        lambda: len(worker_pids(master)) == 2 and pids[0] not in worker_pids(master),
        what="gunicorn to replace the killed worker",
    )
    wait_for(lambda: _healthy(port), what="gunicorn to answer again")
    for body in bodies[:6]:
        assert request(port, "POST", "/api/v1/predict", body)[0] == 200
    assert {served(scrape(port)) for _ in range(6)} == {made + 6}
    assert not (directory / f"gauge_livesum_{pids[0]}.db").exists()
    assert (directory / f"counter_{pids[0]}.db").exists()
    assert "Traceback" not in web.output()

    web.stop()  # SIGTERM: gunicorn exits and removes its private directory
    assert not directory.exists()


def test_a_given_directory_is_emptied_at_start(start_web, hours, tmp_path):
    directory = tmp_path / "prometheus"
    port, web = start_web(PROMETHEUS_MULTIPROC_DIR=str(directory))
    body = json.dumps(open_meteo_body(hours, 3000))
    for _ in range(3):
        assert request(port, "POST", "/api/v1/predict", body)[0] == 200
    assert served(scrape(port)) == 3
    web.stop()
    assert list(directory.glob("counter_*.db"))  # the operator's directory stays

    # The next start counts from zero: the previous run's files are gone.
    port, web = start_web("web-again", PROMETHEUS_MULTIPROC_DIR=str(directory))
    assert served(scrape(port)) == 0
    assert request(port, "POST", "/api/v1/predict", body)[0] == 200
    assert served(scrape(port)) == 1
