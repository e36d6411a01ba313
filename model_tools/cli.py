"""python -m model_tools STEP: rebuild, check and ship the rain model.

Every step's defaults reproduce the committed model. With --json the last line
of stdout is one JSON object; bad input is a one-line error and exit code 1
(a mistyped command line: argparse's usage message and exit code 2).
"""

from __future__ import annotations

import argparse
import json
import math
import numbers
import subprocess
import sys
import time
from pathlib import Path

from weatherapp.ai.predictor import ModelError
from weatherapp.forecast.dataset import DatasetError
from weatherapp.forecast.features import FeatureError

from . import paths, pipeline
from .importers import FORMATS
from .train import SEED, SEEDS

STEPS = ("crossval", "train", "convert", "parity", "report")


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
            formatter_class=_DefaultsHelp,
        )
        sub.add_argument("--json", action="store_true", help="print a JSON result last")
        return sub

    s = step(
        "dataset",
        "observations (TMY3, canonical CSV, Open-Meteo JSON, ISD-Lite) -> "
        "the canonical CSV",
    )
    s.add_argument(
        "--raw",
        type=Path,
        nargs="+",
        action="extend",
        default=argparse.SUPPRESS,
        help="input file(s), one series; repeatable (default: Greensboro's TMY3 "
        "file, ../shared/data/723170TYA.CSV beside the checkout)",
    )
    format_option(s)
    s.add_argument("--out", type=Path, default=paths.DATASET)

    s = step(
        "crossval",
        "out-of-fold forecasts of held-out stations in a held-out year "
        "(TensorFlow; data/isd-lite)",
    )
    s.add_argument("--out", type=Path, default=paths.CROSSVAL)
    s.add_argument(
        "--seeds", type=int, nargs="+", default=list(SEEDS), help="one run per seed"
    )

    s = step("train", "train the float Keras model on data/isd-lite (needs TensorFlow)")
    s.add_argument("--seed", type=int, default=SEED)
    s.add_argument("--out", type=Path, default=paths.FLOAT_MODEL)

    s = step(
        "convert",
        "quantize to full-integer INT8; write model card and parity data (TensorFlow)",
    )
    s.add_argument("--seed", type=int, default=SEED)
    s.add_argument("--float-model", type=Path, default=paths.FLOAT_MODEL)
    s.add_argument("--out", type=Path, default=paths.INT8_MODEL)
    s.add_argument("--parity-data", type=Path, default=paths.PARITY_DATA)
    s.add_argument("--crossval", type=Path, default=paths.CROSSVAL)

    s = step(
        "parity", "gate: INT8 vs the float reference outputs (tflite-runtime only)"
    )
    s.add_argument("--model", type=Path, default=paths.INT8_MODEL)
    s.add_argument("--parity-data", type=Path, default=paths.PARITY_DATA)

    s = step(
        "evaluate", "score the INT8 model on any hourly dataset (tflite-runtime only)"
    )
    s.add_argument(
        "--data",
        type=Path,
        nargs="+",
        action="extend",
        required=True,
        default=argparse.SUPPRESS,
        help="observations to score, one series (several ISD-Lite files of a "
        "station); repeatable",
    )
    format_option(s)
    s.add_argument(
        "--longitude",
        type=float,
        help="the station's longitude, degrees east (west negative, -180 to 180); "
        "default: the TMY3 file's, or the row of a stations.csv beside ISD-Lite "
        "files; given, it wins (with a warning if they differ)",
    )
    s.add_argument(
        "--model",
        type=Path,
        default=paths.INT8_MODEL,
        help="the INT8 model, its card beside it (default: models/rain_int8.tflite)",
    )

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
    s.add_argument("--crossval", type=Path, default=paths.CROSSVAL)
    s.add_argument("--out", type=Path, default=paths.REPORT)

    step(
        "audit",
        "how station dependent each feature is (the windows before the held-out "
        "year; docs/MODEL.md)",
    )

    s = step(
        "all",
        "crossval -> train -> convert -> parity -> report, from the committed data",
    )
    s.add_argument("--seed", type=int, default=SEED)
    s.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    return top


class _DefaultsHelp(argparse.ArgumentDefaultsHelpFormatter):
    """Defaults in the help, except None (nothing to say) and paths (the help
    names them relative to the checkout, not as this machine's path)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or isinstance(action.default, Path):
            return action.help
        return super()._get_help_string(action)


def format_option(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--format",
        choices=FORMATS,
        default=argparse.SUPPRESS,
        help="input format (default: guessed from the file's name and first line)",
    )


def run(args: argparse.Namespace) -> tuple[dict, list[str]]:
    """Run one step; return (result, failed gates)."""
    # Bars go to stderr: shown on a terminal, also under --json (as in `all`).
    progress = not args.json or sys.stderr.isatty()
    # Options without a default are absent from args unless given.
    fmt = getattr(args, "format", None)
    if args.step == "dataset":
        raw = getattr(args, "raw", [paths.RAW_TMY3])
        return pipeline.step_dataset(raw, args.out, fmt), []
    if args.step == "crossval":
        return pipeline.step_crossval(args.out, args.seeds, progress), []
    if args.step == "train":
        return pipeline.step_train(args.out, args.seed, progress), []
    if args.step == "convert":
        card = pipeline.step_convert(
            args.float_model, args.out, args.parity_data, args.crossval, args.seed
        )
        return _card_summary(card), []
    if args.step == "parity":
        return pipeline.step_parity(args.model, args.parity_data)
    if args.step == "evaluate":
        return pipeline.step_evaluate(args.data, fmt, args.longitude, args.model), []
    if args.step == "inspect":
        return pipeline.step_inspect(args.model), []
    if args.step == "audit":
        from .audit import step_audit

        return step_audit(progress), []
    if args.step == "report":
        from .report import write_report

        return write_report(args.model, args.parity_data, args.crossval, args.out), []
    return run_all(args, progress)


def run_all(args: argparse.Namespace, progress: bool) -> tuple[dict, list[str]]:
    """Each step in a fresh process: TensorFlow (train, convert) and
    tflite-runtime (parity, report) must not share one (see score.py)."""
    from tqdm import tqdm

    seeded = ["--seed", str(args.seed)]
    argv = {
        "crossval": ["--seeds", *map(str, args.seeds)],
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
            # The steps' own bars (stations, fits, epochs) go to stderr.
            done = subprocess.run(
                [sys.executable, "-m", "model_tools", name, "--json", *argv[name]],
                stdout=subprocess.PIPE,
                stderr=None if progress else subprocess.PIPE,
                text=True,
            )
            lines = done.stdout.strip().splitlines()
            if not lines or not lines[-1].startswith("{"):
                why = ((done.stderr or "").strip().splitlines() or ["no output"])[-1]
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
        "horizons",
        "threshold",
        "thresholds",
        "metrics",
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
    except MemoryError:
        print(f"error: {args.step}: out of memory (give less data)", file=sys.stderr)
        return 1
    result["seconds"] = round(time.monotonic() - started, 2)
    result["ok"] = not broken
    if broken:
        result["failed"] = broken
    print_human(args.step, result, broken)
    if args.json:
        print(json.dumps(strict(result), default=str, allow_nan=False))
    return 1 if broken else 0


def strict(value: object) -> object:
    """``value`` with NaN and infinities as null: a figure that cannot be
    computed (the AUC of windows that all rained, or of no window) stays
    valid JSON for any parser, not only Python's."""
    if (
        isinstance(value, numbers.Real)
        and not isinstance(value, numbers.Integral)
        and not math.isfinite(value)
    ):
        return None  # numpy's floats too
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    return value


def print_human(step: str, result: dict, broken: list[str]) -> None:
    """A short readable summary (a table where there is one)."""
    if step in ("parity", "all"):
        _print_parity(result.get("parity", result), broken)
    if step == "evaluate":
        _print_evaluation(result)
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
            held = metrics["held_out"]
            print(
                f"held-out stations and year: AUC {held['auc']:.3f}, BSS "
                f"{held['bss']:.3f}; onset AUC {held['onset']['auc']:.3f}, BSS "
                f"{held['onset']['bss']:.3f}"
            )
    elif step == "dataset":
        print(
            f"{result['path']}: {result['rows']} rows, {result['windows']} windows; "
            f"found {result['found']}"
        )
    elif step == "train":
        print(f"{result['float_model']}: trained on {result['windows']:,} windows")
    elif step == "crossval":
        for seed in result["seeds"]:
            print(
                f"seed {seed['seed']}: AUC {seed['auc']:.4f}, BSS {seed['bss']:.4f}, "
                f"onset AUC {seed['onset']['auc']:.4f} / BSS "
                f"{seed['onset']['bss']:.4f}, worst station AUC "
                f"{seed['worst_station_auc']:.4f}"
            )
    elif step == "report":
        print(f"wrote {result['report']} and {len(result['images'])} plots")
    elif step == "audit":
        print(
            "station spread (SD of the station means, in within-station SDs) "
            f"over {result['stations']} stations with {pipeline.FEW_WINDOWS:,} "
            "windows or more, most dependent first"
        )
        for name, value in sorted(result["spread"].items(), key=lambda kv: -kv[1]):
            print(f"  {name:<40}{value:>6.2f}")
    print(f"{step}: {'FAILED' if broken else 'ok'} in {result['seconds']} s")


def _print_evaluation(result: dict) -> None:
    station, model = result["station"], result["model"]
    where = " ".join(str(station[k]) for k in ("id", "name") if station.get(k))
    print(
        f"{where or 'station'} (longitude {result['longitude']:g}), model "
        f"{model['version']}; alert horizon {result['horizon_hours']} h, "
        f"threshold {result['threshold']:.2f}"
    )
    first, last = (t.replace("T", " ")[:16] for t in result["period"])
    print(f"windows ending {first} to {last} UTC")
    if result["in_training"]:
        print(
            "note: the shipped model trained on these hours, so these figures "
            "flatter it; held-out figures are in docs/model-report.md"
        )
    for warning in result["warnings"]:
        print(f"warning: {warning}")
    h = result["horizon_hours"]
    print(f"{'at ' + str(h) + ' h':<24}{'AUC':>8}{'Brier':>9}{'BSS':>8}")
    rows = {
        "INT8 model": result,
        "INT8, onset (dry hour)": result["onset"],
        **result["baselines"],
    }
    for name, r in rows.items():
        print(f"{name:<24}{r['auc']:>8.3f}{r['brier']:>9.4f}{r['bss']:>8.3f}")
    print(f"{'by horizon':<24}{'AUC':>8}{'Brier':>9}{'BSS':>8}")
    for k, r in result["horizons"].items():
        print(
            f"{'  ' + k + ' h':<24}{r['auc']:>8.3f}{r['brier']:>9.4f}{r['bss']:>8.3f}"
        )
    at = result["at_threshold"]
    print(
        f"at the threshold: precision {at['precision']:.3f}, recall "
        f"{at['recall']:.3f} ({at['tp']} rain windows caught, {at['fn']} missed, "
        f"{at['fp']} false alarms)"
    )
    print(
        f"windows: {result['windows']:,} scored, {result['skipped']:,} skipped; "
        f"coverage {result['coverage']:.3f} (scored of those with a known "
        f"label and past precipitation, {result['eligible_share']:.3f} of all)"
    )
    found = result["found"]
    missing = ", ".join(f"{k} {v:,}" for k, v in found["missing"].items() if v)
    print(
        f"found: {found['rows']:,} rows, {found['duplicates']:,} duplicates, "
        f"{found['out_of_order']} out of order, {found['out_of_range']} out of "
        f"range, {found['gaps']} gaps; missing hours per variable: "
        f"{missing or 'none'}"
    )
    if found.get("suspect_months"):
        print(
            "months with weather reported but no precipitation (read as "
            f"missing): {', '.join(found['suspect_months'])}"
        )
    if result["unobserved"]:
        print(f"never reported, read as constants: {', '.join(result['unobserved'])}")
    if result["sparse_months"]:
        print(
            "months with temperature or dew point in under half their hours "
            f"(not scored): {', '.join(result['sparse_months'])}"
        )


def _print_parity(result: dict, broken: list[str]) -> None:
    from .parity import THRESHOLDS as LIMITS
    from .parity import clipped_sentence

    per = result.get("horizons") or {str(result.get("horizon", "")): result}
    print(f"{result['windows']} windows, INT8 against the float model")
    print(
        f"{'horizon':<9}{'agreement':>10}{'mean |dp|':>11}{'max |dp|':>10}"
        f"{'AUC float':>11}{'AUC int8':>10}{'|dAUC|':>9}"
    )
    for k, r in per.items():
        print(
            f"{k + ' h':<9}{r['label_agreement']:>10.4f}{r['mean_abs_diff']:>11.4f}"
            f"{r['max_abs_diff']:>10.4f}{r['auc_float']:>11.4f}{r['auc_int8']:>10.4f}"
            f"{abs(r['auc_float'] - r['auc_int8']):>9.4f}"
        )
    print(
        f"{'gate':<9}{'>= ' + str(LIMITS['label_agreement_min']):>10}"
        f"{'<= ' + str(LIMITS['mean_abs_diff_max']):>11}{'-':>10}{'':>21}"
        f"{'<= ' + str(LIMITS['auc_diff_max']):>9}"
    )
    print(
        "agreement: both on the same side of the threshold; max |dp| is one "
        "window's worst case, reported, not gated"
    )
    if "monotone_int8" in result:
        print(f"INT8 monotone in the horizon: {result['monotone_int8']}")
    if result.get("clipped"):
        print(clipped_sentence(result["clipped"]))
    for line in broken:
        print(f"FAILED: {line}")
