"""The same rain model four ways, each measured in a fresh process.

    .venv/bin/python bench/inference.py [--repeat 2000]   (dev requirements)

Runtimes: Keras float (``model.predict`` and a direct ``model(x)`` call),
float32 TFLite and INT8 TFLite (tflite-runtime; ai-edge-litert too when
installed in another interpreter given by --litert-python). For each: RSS
after loading, the first prediction including the load, single-window latency
(median and p99) and batch throughput. Prints a table, the ratios against the
INT8 model, and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, os, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
sys.path.insert(0, ROOT)
started = time.perf_counter()
import numpy as np
def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
x = np.load(X_PATH)
one = x[:1]
if KIND.startswith("keras"):
    import keras
    model = keras.models.load_model(FLOAT_MODEL)
    if KIND == "keras-predict":
        run = lambda a: model.predict(a, verbose=0)
    else:
        run = lambda a: model(a, training=False).numpy()
else:
    if KIND == "int8-litert":
        from ai_edge_litert.interpreter import Interpreter
    else:
        from tflite_runtime.interpreter import Interpreter
    path = INT8_MODEL if KIND.startswith("int8") else FLOAT_TFLITE
    it = Interpreter(model_path=path, num_threads=1)
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    scale, zero = inp["quantization"]
    oscale, ozero = out["quantization"]
    size = [1]
    def run(a):
        if a.shape[0] != size[0]:
            it.resize_tensor_input(inp["index"], a.shape)
            it.allocate_tensors()
            size[0] = a.shape[0]
        if inp["dtype"] == np.int8:
            a = np.clip(np.round(a / scale + zero), -128, 127).astype(np.int8)
        it.set_tensor(inp["index"], a)
        it.invoke()
        o = it.get_tensor(out["index"])
        return (o.astype(np.float32) - ozero) * oscale if out["dtype"] == np.int8 else o
    it.allocate_tensors()
load_rss = rss_mb()
t = time.perf_counter(); run(one); first_ms = (time.perf_counter() - started) * 1000
lat = []
for i in range(REPEAT):
    a = x[i % len(x)][None, :]
    t = time.perf_counter(); run(a); lat.append(time.perf_counter() - t)
lat = np.array(lat) * 1e6
batch = x[:1000]
run(batch)
t = time.perf_counter(); n = 0
while time.perf_counter() - t < 1.0:
    run(batch); n += len(batch)
throughput = n / (time.perf_counter() - t)
print(json.dumps({
    "kind": KIND,
    "rss_mb": round(max(load_rss, rss_mb()), 1),
    "first_prediction_ms": round(first_ms, 1),
    "median_us": round(float(np.median(lat)), 1),
    "p99_us": round(float(np.percentile(lat, 99)), 1),
    "windows_per_s": round(throughput),
}))
"""


def float_tflite(out: Path) -> None:
    """The float model converted without quantization, in its own process."""
    script = (
        "import os, sys; os.environ['TF_CPP_MIN_LOG_LEVEL']='3'\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "import contextlib, keras, tensorflow as tf\n"
        f"m = keras.models.load_model({str(ROOT / 'models' / 'rain_float.keras')!r})\n"
        "with contextlib.redirect_stdout(sys.stderr):\n"
        "    data = tf.lite.TFLiteConverter.from_keras_model(m).convert()\n"
        f"open({str(out)!r}, 'wb').write(data)\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)


def measure(
    python: str, kind: str, x_path: Path, float_path: Path, repeat: int
) -> dict:
    code = CHILD
    for name, value in {
        "ROOT": str(ROOT),
        "X_PATH": str(x_path),
        "KIND": kind,
        "FLOAT_MODEL": str(ROOT / "models" / "rain_float.keras"),
        "INT8_MODEL": str(ROOT / "models" / "rain_int8.tflite"),
        "FLOAT_TFLITE": str(float_path),
    }.items():
        code = code.replace(name, repr(value))
    code = code.replace(
        "REPEAT", str(repeat if kind != "keras-predict" else repeat // 10)
    )
    done = subprocess.run([python, "-c", code], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{kind}: {done.stderr.strip().splitlines()[-1]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2000)
    parser.add_argument("--litert-python", help="a Python with ai-edge-litert")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from weatherapp.ai.predictor import RainModel
    from weatherapp.forecast import features
    from weatherapp.forecast.dataset import read_csv

    hours = read_csv(ROOT / "data" / "greensboro_723170_hourly.csv")
    ends = features.window_ends(hours["time"])
    raw = features.features(
        features.stack_windows(hours, ends), hours["time"][ends], -79.95
    )
    model = RainModel()
    x = features.standardize(raw, model.mean, model.std).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        x_path, float_path = Path(tmp) / "x.npy", Path(tmp) / "float.tflite"
        np.save(x_path, x)
        float_tflite(float_path)
        kinds = ["keras-predict", "keras-call", "float32-tflite", "int8-tflite"]
        rows = [
            measure(sys.executable, k, x_path, float_path, args.repeat) for k in kinds
        ]
        if args.litert_python:
            rows.append(
                measure(
                    args.litert_python, "int8-litert", x_path, float_path, args.repeat
                )
            )
    int8 = next(r for r in rows if r["kind"] == "int8-tflite")
    print(
        f"{'runtime':<16}{'RSS':>9}{'first':>10}{'median':>11}{'p99':>11}"
        f"{'windows/s':>13}{'× slower':>10}{'× RSS':>8}"
    )
    for r in rows:
        print(
            f"{r['kind']:<16}{r['rss_mb']:>7.1f}MB{r['first_prediction_ms']:>8.1f}ms"
            f"{r['median_us']:>9.1f}µs{r['p99_us']:>9.1f}µs{r['windows_per_s']:>13,}"
            f"{r['median_us'] / int8['median_us']:>10.1f}"
            f"{r['rss_mb'] / int8['rss_mb']:>8.1f}"
        )
    print(json.dumps({"runtimes": rows}))


if __name__ == "__main__":
    main()
