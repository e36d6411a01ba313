"""/metrics and the staff skill page without a readable model card: a 503
that says so (as /healthz), never an HTML 500; and the week's skill report
is made once per scrape, not once per gauge."""

import json
import shutil

import pytest
from django.contrib.auth.models import User

from support import ROOT

pytestmark = pytest.mark.django_db
TOKEN = "metrics-token-for-tests"
AUTH = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}


@pytest.fixture
def no_card(settings, tmp_path):
    settings.METRICS_TOKEN = TOKEN
    settings.MODEL_PATH = str(tmp_path / "nope.tflite")


@pytest.fixture
def broken_card(settings, tmp_path):
    """A card that reads (sha256, features) but has no threshold."""
    settings.METRICS_TOKEN = TOKEN
    model = ROOT / "models" / "rain_int8.tflite"
    shutil.copy(model, tmp_path / model.name)
    card = json.loads(model.with_suffix(".json").read_text())
    del card["threshold"]
    (tmp_path / "rain_int8.json").write_text(json.dumps(card))
    settings.MODEL_PATH = str(tmp_path / model.name)


@pytest.fixture
def staff(client):
    client.force_login(
        User.objects.create_user("op", "op@example.com", "pw", is_staff=True)
    )
    return client


@pytest.mark.parametrize("card", ["no_card", "broken_card"])
def test_metrics_without_a_card_are_a_json_503(client, card, request):
    request.getfixturevalue(card)
    response = client.get("/metrics", **AUTH)
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert "metrics unavailable" in response.json()["error"]
    if card == "no_card":  # as /healthz says
        assert client.get("/healthz").status_code == 503


def test_metrics_keep_their_auth_without_a_card(client, no_card):
    assert client.get("/metrics").status_code == 401
    bad = client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong")
    assert bad.status_code == 401
    client.force_login(User.objects.create_user("u", "u@example.com", "pw"))
    assert client.get("/metrics").status_code == 403


@pytest.mark.parametrize("card", ["no_card", "broken_card"])
def test_the_staff_skill_page_without_a_card_is_a_503_page(staff, card, request):
    request.getfixturevalue(card)
    response = staff.get("/staff/skill/")
    assert response.status_code == 503
    page = response.content.decode()
    assert "Model skill unavailable" in page and 'id="problem"' in page


def test_the_weeks_report_is_made_once_per_scrape(client, settings, monkeypatch):
    from weatherapp.web import skill

    settings.METRICS_TOKEN = TOKEN
    calls = []
    real = skill.skill_report

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(skill, "skill_report", counted)
    text = client.get("/metrics", **AUTH).content.decode()
    assert "weatheralert_skill_auc" in text and "weatheralert_skill_verified" in text
    assert len(calls) == 1
    client.get("/metrics", **AUTH)
    assert len(calls) == 2  # the next scrape reads the database again
