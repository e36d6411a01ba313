"""Bad input is a 4xx: every form sent invalid answers 400 with the same page
and its errors (they answered 200, as if the post had worked); a form that is
merely shown is still a 200."""

import re

import pytest
from django.contrib.auth.models import User
from django.core import mail

pytestmark = pytest.mark.django_db
PASSWORD = "pw-alice-123"


@pytest.fixture
def alice():
    return User.objects.create_user("alice", "alice@example.com", PASSWORD)


def assert_400_with_errors(response, template: str) -> None:
    assert response.status_code == 400
    assert template in [t.name for t in response.templates]
    assert response.context["form"].errors


def test_sign_up(client):
    assert client.get("/signup/").status_code == 200
    response = client.post(
        "/signup/",
        {"username": "bob", "email": "not an address", "password1": "x"},
    )
    assert_400_with_errors(response, "registration/signup.html")


def test_log_in(client, alice):
    assert client.get("/accounts/login/").status_code == 200
    response = client.post(
        "/accounts/login/", {"username": "alice", "password": "wrong"}
    )
    assert_400_with_errors(response, "registration/login.html")


def test_admin_log_in(client, alice):
    assert client.get("/admin/login/").status_code == 200
    response = client.post("/admin/login/", {"username": "alice", "password": "x"})
    assert response.status_code == 400
    assert "Please enter the correct username" in response.content.decode()


def test_place_form_new_and_edit(client, alice):
    client.force_login(alice)
    assert client.get("/places/new/").status_code == 200
    data = {"name": "Home", "latitude": "91", "longitude": "2", "timezone": "UTC"}
    assert_400_with_errors(
        client.post("/places/new/", data), "weatherapp/place_form.html"
    )
    place = alice.places.create(name="Home", latitude=1, longitude=2)
    url = f"/places/{place.pk}/edit/"
    assert client.get(url).status_code == 200
    assert_400_with_errors(client.post(url, data), "weatherapp/place_form.html")


def test_password_reset(client, alice):
    assert client.get("/accounts/password_reset/").status_code == 200
    response = client.post("/accounts/password_reset/", {"email": "nope"})
    assert_400_with_errors(response, "registration/password_reset_form.html")


def test_password_reset_confirm(client, alice, settings):
    settings.SITE_URL = "https://weather.example.com"
    client.post("/accounts/password_reset/", {"email": "alice@example.com"})
    (message,) = mail.outbox
    link = re.search(
        r"https://weather\.example\.com(/accounts/reset/\S+/)", message.body
    )
    form_url = client.get(link.group(1))["Location"]
    assert client.get(form_url).status_code == 200
    response = client.post(
        form_url, {"new_password1": "rain-again-456", "new_password2": "different"}
    )
    assert_400_with_errors(response, "registration/password_reset_confirm.html")


def test_password_change(client, alice):
    client.force_login(alice)
    assert client.get("/accounts/password_change/").status_code == 200
    response = client.post(
        "/accounts/password_change/",
        {
            "old_password": "wrong",
            "new_password1": "rain-again-456",
            "new_password2": "rain-again-456",
        },
    )
    assert_400_with_errors(response, "registration/password_change_form.html")


def test_api_token(client, alice):
    client.force_login(alice)
    response = client.post("/account/token/", {"name": "x\x00y"})
    assert_400_with_errors(response, "weatherapp/api_token.html")


def test_an_empty_post_is_a_form_with_errors_too(client, alice):
    """`request.POST or None` left an empty POST's form unbound: 200, and
    no error said what was missing."""
    assert_400_with_errors(client.post("/signup/", {}), "registration/signup.html")
    client.force_login(alice)
    assert_400_with_errors(
        client.post("/places/new/", {}), "weatherapp/place_form.html"
    )
