"""The lazy, thread-safe INT8 predictor."""

import json
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from support import LONGITUDE, ROOT
from weatherapp.ai import predictor
from weatherapp.ai.predictor import ModelError, RainModel
from weatherapp.forecast import features


@pytest.fixture(scope="module")
def windows(hours):
    ends = features.window_ends(hours["time"])[::40]
    stacked = features.stack_windows(hours, ends)
    return features.features(stacked, hours["time"][ends], LONGITUDE)


def test_no_interpreter_until_the_first_prediction(windows):
    model = RainModel()
    assert not model.loaded
    model.predict(windows[:1])
    assert model.loaded


def test_batch_equals_single_predictions(windows):
    model = RainModel()
    batch = model.predict(windows)
    singles = np.array([model.predict(row)[0] for row in windows])
    assert np.array_equal(batch, singles)
    assert ((batch >= 0) & (batch <= 1)).all()


def test_threads_get_exactly_the_serial_results(windows):
    model = RainModel()
    serial = [model.predict(row)[0] for row in windows]
    fresh = RainModel()  # several threads race to create its interpreter
    barrier = threading.Barrier(8)

    def work(offset: int) -> list[float]:
        barrier.wait()
        out = []
        for i in range(len(windows)):
            k = (i + offset) % len(windows)
            # Alternate singles and batches so the input tensor is resized too.
            if i % 3:
                out.append((k, fresh.predict(windows[k])[0]))
            else:
                out.append((k, fresh.predict(windows[[k, k]])[1]))
        return out

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(work, range(8)))
    for result in results:
        for k, p in result:
            assert p == serial[k]


def test_every_horizon_in_one_invoke(windows):
    model = RainModel()
    assert model.horizons == (1, 2, 3, 4, 5, 6)
    p = model.predict_horizons(windows)
    assert p.shape == (len(windows), 6) and p.dtype == np.float32
    # predict() keeps its meaning: the card's alert horizon (3 h).
    assert model.card["horizon_hours"] == 3
    assert np.array_equal(model.predict(windows), p[:, 2])
    # Rain within 6 h is more often likely than within 1 h.
    assert p[:, 5].mean() > p[:, 0].mean()


def test_batch_functions_agree(hours):
    ends = features.window_ends(hours["time"])[::97]
    stacked = features.stack_windows(hours, ends)
    times = hours["time"][ends]
    every = predictor.predict_rain_batch(stacked, times, LONGITUDE)
    assert every.shape == (len(ends), 6)
    assert np.all(np.diff(every, axis=1) >= 0)
    three = every[:, features.HORIZONS.index(features.HORIZON_HOURS)]
    recent = {k: v[ends[3] - 23 : ends[3] + 1] for k, v in hours.items()}
    assert predictor.predict_rain(recent, LONGITUDE) == pytest.approx(three[3])


@settings(deadline=None)
@given(
    arrays(
        np.float32,
        (8, len(features.FEATURES)),
        elements=st.floats(-1e4, 1e4, width=32, allow_nan=False),
    )
)
def test_horizons_are_monotone_for_any_input(raw):
    # The network itself, without the runtime's running maximum: monotone by
    # construction (model_tools/train.py build_model), also in INT8.
    p = _model().predict_horizons(raw, running_max=False)
    assert (np.diff(p, axis=1) >= 0).all()


def test_a_single_output_card_still_works(tmp_path, windows):
    """A card without "horizons" describes a model with one output."""
    card = json.loads((ROOT / "models" / "rain_int8.json").read_text())
    del card["horizons"]
    (tmp_path / "m.json").write_text(json.dumps(card))
    (tmp_path / "m.tflite").write_bytes(
        (ROOT / "models" / "rain_int8.tflite").read_bytes()
    )
    model = RainModel(tmp_path / "m.tflite")
    assert model.horizons == (3,)
    # This file has six outputs, so the card is caught lying.
    with pytest.raises(ModelError, match="gives 6 outputs"):
        model.predict(windows[:1])


_shared: list[RainModel] = []


def _model() -> RainModel:
    if not _shared:
        _shared.append(RainModel())
    return _shared[0]


def test_predict_rain_uses_the_newest_window(hours):
    end = int(features.window_ends(hours["time"])[500])
    recent = {k: v[end - 30 : end + 1] for k, v in hours.items()}
    newest = {k: v[-24:] for k, v in recent.items()}
    assert predictor.predict_rain(recent, LONGITUDE) == predictor.predict_rain(
        newest, LONGITUDE
    )


def test_predict_rain_needs_a_whole_window(hours):
    short = {k: v[:23] for k, v in hours.items()}
    with pytest.raises(features.FeatureError, match="needs 24"):
        predictor.predict_rain(short, LONGITUDE)


def test_model_card_must_match_the_code(tmp_path):
    model = tmp_path / "m.tflite"
    model.write_bytes((ROOT / "models" / "rain_int8.tflite").read_bytes())
    card = json.loads((ROOT / "models" / "rain_int8.json").read_text())
    card["features"] = card["features"][::-1]
    (tmp_path / "m.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="features differ"):
        RainModel(model)


def test_corrupt_model_file_is_a_model_error(tmp_path, windows):
    model = tmp_path / "m.tflite"
    model.write_bytes(b"not a flatbuffer" * 10)
    (tmp_path / "m.json").write_text((ROOT / "models" / "rain_int8.json").read_text())
    # The card vouches for other bytes: they never reach the interpreter.
    with pytest.raises(ModelError, match="does not match its model card"):
        RainModel(model).predict(windows[:1])


def in_a_fresh_process(tmp_path, script: str) -> None:
    """Run ``script`` after Django's set-up and migrations on a new SQLite
    database, in a process of its own; it ends by printing "ok"."""
    prologue = f"""
import os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "weatheralert.settings"
os.environ["WEATHERALERT_VAR_DIR"] = {str(tmp_path)!r}
os.environ["SECURE_SSL_REDIRECT"] = "false"
os.environ.pop("CELERY_SKIP_CHECKS", None)
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
"""
    done = subprocess.run(
        [sys.executable, "-c", prologue + script],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("ok")


# One chunk of the cycle, run as the worker runs it.
A_TASK = """
from django.contrib.auth.models import User
from weatherapp.models import Place, Prediction
user = User.objects.create_user("u", "u@example.com", "pw")
place = Place.objects.create(owner=user, name="x", latitude=36.1, longitude=-79.95)
weatherapp.tasks.predict_cells.apply(args=[[place.cell_id]]).get()
assert Prediction.objects.filter(cell=place.cell).count() == 1
"""


def test_runtime_never_imports_tensorflow(tmp_path):
    """A full request and a full task in one fresh process: no TensorFlow, and
    no interpreter until something predicts."""
    in_a_fresh_process(
        tmp_path,
        """
from django.test import Client
import weatherapp.tasks
assert "weatherapp.ai.predictor" not in sys.modules, "imported at start-up"
assert "numpy" not in sys.modules, "numpy imported at start-up"
client = Client(HTTP_HOST="localhost")
assert client.get("/healthz").status_code == 200
assert "numpy" not in sys.modules, "healthz loaded numpy"
from support import open_meteo_body
from weatherapp.forecast.dataset import read_csv
hours = read_csv("data/greensboro_723170_hourly.csv")
body = open_meteo_body(hours, 500)
r = client.post("/api/v1/predict", body, content_type="application/json")
assert r.status_code == 200, r.content
"""
        + A_TASK
        + """
bad = [m for m in sys.modules if m == "tensorflow" or m.startswith("tensorflow.")]
assert not bad, bad
print("ok")
""",
    )


def test_the_worker_cycle_loads_no_web_code(tmp_path):
    """A worker's task scores and stores without the views or prometheus_client
    (~8 MB of a worker's 96 MB; its counts would never reach /metrics, which
    the web dyno serves), and Celery is told not to run Django's URL checks,
    which import every view."""
    in_a_fresh_process(
        tmp_path,
        """
import weatherapp.tasks
assert os.environ["CELERY_SKIP_CHECKS"] == "1"
"""
        + A_TASK
        + """
web = [m for m in ("prometheus_client", "weatherapp.ops.views", "whitenoise")
       if m in sys.modules]
assert not web, web
print("ok")
""",
    )
