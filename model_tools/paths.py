"""Where the toolchain reads and writes by default (the committed artefacts)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RAW_TMY3 = ROOT.parent / "shared" / "data" / "723170TYA.CSV"
DATASET = ROOT / "data" / "greensboro_723170_hourly.csv"
MODELS = ROOT / "models"
FLOAT_MODEL = MODELS / "rain_float.keras"
INT8_MODEL = MODELS / "rain_int8.tflite"
PARITY_DATA = MODELS / "rain_int8.parity.npz"
REPORT = ROOT / "docs" / "model-report.md"
ISD = ROOT / "data" / "isd-lite"
CROSSVAL = MODELS / "rain_crossval.npz"
