"""The alert horizon is named twice, by the model card (horizon_hours among
its horizons) and by the code (HORIZON_HOURS): the health check says when
they disagree, and the API answers a 503 naming it, where a card without a
3 h horizon made model.horizons.index(HORIZON_HOURS) raise (a 500)."""

import json
import shutil

import pytest

from support import ROOT, open_meteo_body
from weatherapp.forecast.variables import HORIZON_HOURS
from weatherapp.ops.health import horizon_problems, model_problems

MODEL = ROOT / "models" / "rain_int8.tflite"
END = 2000


def deploy(tmp_path, **card_changes):
    """The shipped model beside a copy of its card with ``card_changes``."""
    shutil.copy(MODEL, tmp_path / MODEL.name)
    card = json.loads(MODEL.with_suffix(".json").read_text())
    card.update(card_changes)
    (tmp_path / "rain_int8.json").write_text(json.dumps(card))
    return tmp_path / MODEL.name


def test_the_shipped_card_agrees_with_the_code():
    card = json.loads(MODEL.with_suffix(".json").read_text())
    assert card["horizon_hours"] == HORIZON_HOURS
    assert horizon_problems(card) == []
    assert model_problems(MODEL) == []


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"horizon_hours": 4}, "horizon_hours is 4 h, the code's alert horizon"),
        (
            {"horizons": [1, 2, 4, 5, 6, 7], "horizon_hours": 4},
            "not HORIZON_HOURS (3 h)",
        ),
        ({"horizons": [1, 2, 4, 5, 6, 7]}, "not horizon_hours (3 h)"),
        ({"horizon_hours": "soon"}, "no whole-hour horizon_hours"),
    ],
)
def test_a_card_whose_horizon_differs_is_not_deployable(tmp_path, changes, says):
    problems = model_problems(deploy(tmp_path, **changes))
    assert any(says in p for p in problems), problems


def test_healthz_says_so(client, settings, tmp_path):
    settings.MODEL_PATH = str(deploy(tmp_path, horizon_hours=4))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert "HORIZON_HOURS" in " ".join(response.json()["problems"])


@pytest.mark.parametrize(
    "changes",
    [
        # Loads (4 h is among its horizons), but predicts no 3 h.
        {"horizons": [1, 2, 4, 5, 6, 7], "horizon_hours": 4},
        # The predictor cannot even pick its default column.
        {"horizons": [1, 2, 4, 5, 6, 7]},
    ],
)
def test_the_api_answers_503_not_500(client, settings, tmp_path, hours, changes):
    settings.MODEL_PATH = str(deploy(tmp_path, **changes))
    body = json.dumps(open_meteo_body(hours, END))
    response = client.post("/api/v1/predict", body, content_type="application/json")
    assert response.status_code == 503
    assert "the rain model is unavailable" in response.json()["error"]
    assert "3 h" in response.json()["error"]
