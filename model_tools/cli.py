"""python -m model_tools STEP: rebuild, check and ship the rain model.

Every step's defaults reproduce the committed model. With --json the last line
of stdout is one JSON object; bad input is a one-line error and exit code 1.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from weatherapp.ai.predictor import ModelError
from weatherapp.forecast.dataset import DatasetError
from weatherapp.forecast.features import FeatureError

from . import paths, pipeline
from .importers import FORMATS
from .train import SEED

STEPS = ("dataset", "train", "convert", "parity", "report")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m model_tools",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    steps = top.add_subparsers(dest="step", required=True, metavar="STEP")

    def step(name: str, help: str) -> argparse.ArgumentParser:
        sub = steps.add_parser(
            name,
            help=help,
            description=help,
            formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        )
        sub.add_argument("--json", action="store_true", help="print a JSON result last")
        return sub

    s = step(
        "dataset",
        "observations (TMY3, canonical CSV, Open-Meteo JSON) -> the canonical CSV",
    )
    s.add_argument("--raw", type=Path, default=paths.RAW_TMY3, help="input file")
    s.add_argument("--format", choices=FORMATS, help="input format (default: guessed)")
    s.add_argument("--out", type=Path, default=paths.DATASET)

    s = step("train", "train the float Keras model (needs TensorFlow)")
    _data_args(s)
    s.add_argument("--out", type=Path, default=paths.FLOAT_MODEL)

    s = step(
        "convert",
        "quantize to full-integer INT8; write model card and parity data (TensorFlow)",
    )
    _data_args(s)
    s.add_argument("--float-model", type=Path, default=paths.FLOAT_MODEL)
    s.add_argument("--out", type=Path, default=paths.INT8_MODEL)
    s.add_argument("--parity-data", type=Path, default=paths.PARITY_DATA)

    s = step(
        "parity", "gate: INT8 vs the float reference outputs (tflite-runtime only)"
    )
    s.add_argument("--model", type=Path, default=paths.INT8_MODEL)
    s.add_argument("--parity-data", type=Path, default=paths.PARITY_DATA)

    s = step(
        "evaluate", "score the INT8 model on any hourly dataset (tflite-runtime only)"
    )
    s.add_argument("--data", type=Path, required=True, help="observations to score")
    s.add_argument("--format", choices=FORMATS, help="input format (default: guessed)")
    s.add_argument(
        "--longitude", type=float, help="station longitude (if the file has none)"
    )
    s.add_argument("--model", type=Path, default=paths.INT8_MODEL)

    s = step(
        "inspect",
        "tensors, quantization, ops and size of a .tflite file (tflite-runtime only)",
    )
    s.add_argument("model", type=Path, nargs="?", default=paths.INT8_MODEL)

    s = step(
        "report", "write a Markdown report with PNG plots (ROC, reliability, parity)"
    )
    s.add_argument("--model", type=Path, default=paths.INT8_MODEL)
    s.add_argument("--parity-data", type=Path, default=paths.PARITY_DATA)
    s.add_argument("--out", type=Path, default=paths.REPORT)

    s = step("all", "dataset -> train -> convert -> parity -> report")
    s.add_argument("--raw", type=Path, default=paths.RAW_TMY3)
    s.add_argument("--format", choices=FORMATS)
    _data_args(s)
    return top


def _data_args(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--data", type=Path, default=paths.DATASET, help="canonical CSV")
    sub.add_argument(
        "--longitude",
        type=float,
        default=pipeline.DEFAULT_LONGITUDE,
        help="station longitude, for local solar time",
    )
    sub.add_argument("--seed", type=int, default=SEED)


def run(args: argparse.Namespace) -> tuple[dict, list[str]]:
    """Run one step; return (result, failed gates)."""
    progress = not args.json
    if args.step == "dataset":
        return pipeline.step_dataset(args.raw, args.out, args.format), []
    if args.step == "train":
        return pipeline.step_train(
            args.data, args.out, args.longitude, args.seed, progress
        ), []
    if args.step == "convert":
        card = pipeline.step_convert(
            args.data,
            args.float_model,
            args.out,
            args.parity_data,
            args.longitude,
            args.seed,
        )
        return _card_summary(card), []
    if args.step == "parity":
        return pipeline.step_parity(args.model, args.parity_data)
    if args.step == "evaluate":
        return pipeline.step_evaluate(
            args.data, args.format, args.longitude, args.model
        ), []
    if args.step == "inspect":
        return pipeline.step_inspect(args.model), []
    if args.step == "report":
        from .report import write_report

        return write_report(args.model, args.parity_data, args.out), []
    return run_all(args, progress)


def run_all(args: argparse.Namespace, progress: bool) -> tuple[dict, list[str]]:
    """Each step in a fresh process: TensorFlow (train, convert) and
    tflite-runtime (parity, report) must not share one (see score.py)."""
    from tqdm import tqdm

    common = ["--data", str(args.data), "--longitude", str(args.longitude)]
    seeded = [*common, "--seed", str(args.seed)]
    dataset = ["--raw", str(args.raw), "--out", str(args.data)]
    if args.format:
        dataset += ["--format", args.format]
    argv = {
        "dataset": dataset,
        "train": seeded,
        "convert": seeded,
        "parity": [],
        "report": [],
    }
    result: dict = {}
    broken: list[str] = []
    with tqdm(STEPS, desc="all", unit="step", disable=not progress) as bar:
        for name in bar:
            bar.set_postfix_str(name)
            done = subprocess.run(
                [sys.executable, "-m", "model_tools", name, "--json", *argv[name]],
                capture_output=True,
                text=True,
            )
            lines = done.stdout.strip().splitlines()
            if not lines or not lines[-1].startswith("{"):
                why = (done.stderr.strip().splitlines() or ["no output"])[-1]
                raise ModelError(f"step {name} failed: {why}")
            result[name] = json.loads(lines[-1])
            broken += result[name].get("failed", [])
            if done.returncode and not broken:
                raise ModelError(f"step {name} failed")
    return result, broken


def _card_summary(card: dict) -> dict:
    keys = (
        "version",
        "model_sha256",
        "model_bytes",
        "threshold",
        "metrics",
        "margins",
        "parity",
    )
    return {k: card[k] for k in keys}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    started = time.monotonic()
    try:
        result, broken = run(args)
    except ImportError as exc:
        print(
            f"error: {args.step} needs {exc.name or exc}: "
            "pip install -r requirements-dev.txt",
            file=sys.stderr,
        )
        return 1
    except (DatasetError, FeatureError, ModelError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    result["seconds"] = round(time.monotonic() - started, 2)
    result["ok"] = not broken
    if broken:
        result["failed"] = broken
    print_human(args.step, result, broken)
    if args.json:
        print(json.dumps(result, default=str))
    return 1 if broken else 0


def print_human(step: str, result: dict, broken: list[str]) -> None:
    """A short readable summary (a table where there is one)."""
    if step in ("parity", "all"):
        _print_parity(result.get("parity", result), broken)
    if step == "evaluate":
        print(f"{'forecast':<14}{'AUC':>8}{'Brier':>9}{'BSS':>8}")
        print(
            f"{'int8':<14}{result['auc']:>8.3f}{result['brier']:>9.4f}{result['bss']:>8.3f}"
        )
        for name, s in result["baselines"].items():
            print(f"{name:<14}{s['auc']:>8.3f}{s['brier']:>9.4f}{s['bss']:>8.3f}")
        print(
            f"windows used {result['windows']}, skipped {result['skipped']}; "
            f"found {result['found']}"
        )
    elif step == "inspect":
        print(
            f"{result['path']}: {result['bytes']} bytes, ops {', '.join(result['ops'])}"
        )
        for kind in ("inputs", "outputs"):
            for t in result[kind]:
                print(
                    f"  {kind[:-1]:<7}{t['name']:<32}{t['dtype']:<6}"
                    f"{str(t['shape']):<10}"
                    f"scale {t['scale']:.6g} zero point {t['zero_point']}"
                )
    elif step in ("convert", "all"):
        metrics = result.get("convert", result).get("metrics")
        if metrics:
            print(f"{'forecast':<14}{'AUC':>8}{'Brier':>9}{'BSS':>8}{'F1':>8}")
            for name, s in metrics.items():
                print(
                    f"{name:<14}{s['auc']:>8.3f}{s['brier']:>9.4f}{s['bss']:>8.3f}{s['f1']:>8.3f}"
                )
    elif step == "dataset":
        print(
            f"{result['path']}: {result['rows']} rows, {result['windows']} windows; "
            f"found {result['found']}"
        )
    elif step == "train":
        print(f"{result['float_model']}: test AUC {result['test_auc_float']:.4f}")
    elif step == "report":
        print(f"wrote {result['report']} and {len(result['images'])} plots")
    print(f"{step}: {'FAILED' if broken else 'ok'} in {result['seconds']} s")


def _print_parity(result: dict, broken: list[str]) -> None:
    rows = [
        ("windows", f"{result['windows']}"),
        ("label agreement", f"{result['label_agreement']:.4f}"),
        ("mean |p_float - p_int8|", f"{result['mean_abs_diff']:.4f}"),
        ("max |p_float - p_int8|", f"{result['max_abs_diff']:.4f}"),
        ("AUC float / int8", f"{result['auc_float']:.4f} / {result['auc_int8']:.4f}"),
    ]
    for name, value in rows:
        print(f"{name:<26} {value}")
    for line in broken:
        print(f"FAILED: {line}")
