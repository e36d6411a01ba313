"""`python -m model_tools <step>`; the defaults rebuild the committed model."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from weatherapp.ai.dataset import DatasetError
from weatherapp.ai.features import FeatureError
from weatherapp.ai.predictor import ModelError

from . import paths, pipeline


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m model_tools", description=__doc__)
    steps = top.add_subparsers(dest="step", required=True, metavar="STEP")

    def step(name: str, help: str) -> argparse.ArgumentParser:
        sub = steps.add_parser(name, help=help, description=help)
        sub.add_argument("--json", action="store_true", help="print a JSON result last")
        return sub

    s = step("dataset", "convert a TMY3 file into the canonical hourly CSV")
    s.add_argument("--raw", type=Path, default=paths.RAW_TMY3)
    s.add_argument("--out", type=Path, default=paths.DATASET)

    s = step("train", "train the float Keras model (needs TensorFlow)")
    _data_args(s)
    s.add_argument("--out", type=Path, default=paths.FLOAT_MODEL)

    s = step("convert", "quantize to INT8 TFLite, write the model card and parity data")
    _data_args(s)
    s.add_argument("--float-model", type=Path, default=paths.FLOAT_MODEL)
    s.add_argument("--out", type=Path, default=paths.INT8_MODEL)
    s.add_argument("--parity-data", type=Path, default=paths.PARITY_DATA)

    s = step("parity", "check INT8 against the float reference (tflite-runtime only)")
    s.add_argument("--model", type=Path, default=paths.INT8_MODEL)
    s.add_argument("--parity-data", type=Path, default=paths.PARITY_DATA)

    s = step("all", "dataset -> train -> convert -> parity")
    s.add_argument("--raw", type=Path, default=paths.RAW_TMY3)
    _data_args(s)
    return top


def _data_args(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--data", type=Path, default=paths.DATASET)
    sub.add_argument(
        "--longitude",
        type=float,
        default=pipeline.DEFAULT_LONGITUDE,
        help="station longitude, for local solar time",
    )


def run(args: argparse.Namespace) -> tuple[dict, list[str]]:
    """Run one step; return (result, failures)."""
    progress = not args.json
    if args.step == "dataset":
        return pipeline.step_dataset(args.raw, args.out), []
    if args.step == "train":
        return pipeline.step_train(args.data, args.out, args.longitude, progress), []
    if args.step == "convert":
        card = pipeline.step_convert(
            args.data, args.float_model, args.out, args.parity_data, args.longitude
        )
        return {
            "model": str(args.out),
            "parity": card["parity"],
            "metrics": card["metrics"],
        }, []
    if args.step == "parity":
        return pipeline.step_parity(args.model, args.parity_data)
    # all
    result = {"dataset": pipeline.step_dataset(args.raw, args.data)}
    result["train"] = pipeline.step_train(
        args.data, paths.FLOAT_MODEL, args.longitude, progress
    )
    card = pipeline.step_convert(
        args.data,
        paths.FLOAT_MODEL,
        paths.INT8_MODEL,
        paths.PARITY_DATA,
        args.longitude,
    )
    result["metrics"] = card["metrics"]
    result["parity"], broken = pipeline.step_parity(paths.INT8_MODEL, paths.PARITY_DATA)
    return result, broken


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    started = time.monotonic()
    try:
        result, broken = run(args)
    except (DatasetError, FeatureError, ModelError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    result["seconds"] = round(time.monotonic() - started, 2)
    result["ok"] = not broken
    if broken:
        result["failed"] = broken
    if args.step in ("parity", "all"):
        _print_parity(result.get("parity", result), broken)
    if args.json:
        print(json.dumps(result, default=str))
    elif args.step not in ("parity", "all"):
        print(json.dumps(result, indent=2, default=str))
    return 1 if broken else 0


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
    print("parity: " + ("FAILED" if broken else "ok"))
