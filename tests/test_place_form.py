"""The place form: finding a place by name (against the loopback Open-Meteo,
and offline), the time zone list, the threshold in percent, errors tied to
their fields, and the webhook's test, copy and new-secret buttons."""

from __future__ import annotations

import datetime as dt
import html
import json
import re

import pytest
from django.contrib.auth.models import User
from django.test import Client

from weatherapp.alerting.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from weatherapp.models import Place
from weatherapp.web.forms import parse_percent

from .weather_server import WeatherServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(client):
    user = User.objects.create_user("alice", "alice@example.com")
    client.force_login(user)
    return user


@pytest.fixture
def server(settings):
    server = WeatherServer({}, 0, 0)
    settings.WEATHER_SOURCE = "open-meteo"
    settings.OPEN_METEO_GEOCODING_URL = server.url
    settings.OPEN_METEO_BACKOFF = 0.01
    settings.OPEN_METEO_RETRIES = 1
    settings.OPEN_METEO_READ_TIMEOUT = 0.3
    yield server
    server.close()


def form_data(**change) -> dict:
    return {
        "name": "Home",
        "latitude": "36.1",
        "longitude": "-79.9",
        "timezone": "America/New_York",
        "threshold_preset": "custom",
        "threshold": "50",
        "email_enabled": "on",
        "active": "on",
        **change,
    }


# --- finding a place -------------------------------------------------------


def test_search_shows_results_that_fill_the_form(client, alice, server):
    response = client.get("/places/new/", {"q": "Springfield"})
    page = response.content.decode()
    assert response.status_code == 200
    links = re.findall(r'<a href="(\?[^"]+)" class="fill"', page)
    assert len(links) == 3
    assert "Springfield, Illinois, United States" in page
    assert 'data-timezone="Pacific/Auckland"' in page
    # Following a result (no JavaScript) fills name, position and zone.
    filled = client.get("/places/new/" + html.unescape(links[0])).content.decode()
    assert 'name="name" value="Springfield"' in filled
    assert 'name="latitude" value="39.8017"' in filled
    assert 'name="longitude" value="-89.6437"' in filled
    assert '<option value="America/Chicago" selected>' in filled
    # ... and the zone came from the result, not the browser.
    marker = 'id="place-form" data-zone-from-browser'
    assert marker not in filled
    assert marker in client.get("/places/new/").content.decode()


def test_the_search_fills_an_existing_place_too(client, alice, server):
    place = Place.objects.create(owner=alice, name="Old", latitude=1, longitude=2)
    page = client.get(
        f"/places/{place.pk}/edit/",
        {
            "name": "Berlin",
            "latitude": "52.5244",
            "longitude": "13.4105",
            "timezone": "Europe/Berlin",
        },
    ).content.decode()
    assert 'value="Berlin"' in page and 'value="52.5244"' in page
    assert '<option value="Europe/Berlin" selected>' in page


def test_no_results_say_so(client, alice, server):
    page = client.get("/places/new/", {"q": "Atlantis"}).content.decode()
    assert "No place called “Atlantis” was found" in page
    assert 'class="fill"' not in page


@pytest.mark.parametrize(
    "faults", [["500", "500"], ["error"], ["slow", "slow"], ["invalid"], ["429"] * 2]
)
def test_a_failing_search_is_a_friendly_message(client, alice, server, faults):
    server.slow_seconds = 1.0
    server.search_faults = list(faults)
    response = client.get("/places/new/", {"q": "Berlin"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "The place search is not available right now" in page
    assert 'class="fill"' not in page and "Errno" not in page
    assert 'name="name"' in page  # the form is still there to fill by hand


def test_a_500_once_is_retried_and_answers(client, alice, server):
    server.search_faults = ["500"]
    page = client.get("/places/new/", {"q": "Berlin"}).content.decode()
    assert "Berlin, Land Berlin, Germany" in page
    assert len([r for r in server.requests if r["path"] == "/v1/search"]) == 2


def test_offline_the_search_offers_the_replay_station(client, alice, settings):
    settings.WEATHER_SOURCE = "replay"
    settings.OPEN_METEO_GEOCODING_URL = "http://127.0.0.1:9"  # never asked
    page = client.get("/places/new/", {"q": "Paris"}).content.decode()
    assert "offline mode" in page
    assert "Greensboro, North Carolina, United States" in page
    assert 'data-latitude="36.1000" data-longitude="-79.9500"' in page
    assert 'data-timezone="America/New_York"' in page


def test_the_json_search_for_the_script(client, alice, server):
    body = client.get("/places/geocode/", {"q": "berlin"}).json()
    (result,) = body["results"]
    assert result["timezone"] == "Europe/Berlin" and result["latitude"] == 52.5244
    assert result["link"].startswith("?name=Berlin&")
    server.search_faults = ["500", "500"]
    body = client.get("/places/geocode/", {"q": "berlin"}).json()
    assert body["results"] == [] and "not available" in body["message"]
    assert Client().get("/places/geocode/", {"q": "x"}).status_code == 302


@pytest.mark.parametrize(
    "query",
    [
        {"latitude": "nan", "longitude": "1e999", "timezone": "Factory"},
        {"latitude": "95", "timezone": "../../etc/passwd", "name": "\x00" * 500},
        {"q": "\x00" * 5000},
        {"q": "²"},
    ],
)
def test_bad_search_parameters_are_ignored(client, alice, server, query):
    response = client.get("/places/new/", query)
    assert response.status_code == 200
    assert '<option value="UTC" selected>' in response.content.decode()


def test_use_my_location_button_and_browser_zone(client, alice):
    page = client.get("/places/new/").content.decode()
    assert 'id="use-location" hidden' in page  # shown by the script
    assert "navigator.geolocation.getCurrentPosition" in page
    assert "Intl.DateTimeFormat().resolvedOptions().timeZone" in page


# --- time zones -----------------------------------------------------------


def test_the_zone_list_holds_only_real_zones_grouped(client, alice):
    page = client.get("/places/new/").content.decode()
    options = re.findall(r'<option value="([^"]+)"', page)
    assert "UTC" in options and "Europe/Berlin" in options
    for clutter in ("Factory", "localtime", "US/Pacific", "Etc/GMT+5", "Zulu"):
        assert clutter not in options
    assert '<optgroup label="Europe">' in page
    assert len(options) < 500
    response = client.post("/places/new/", form_data(timezone="Factory"))
    assert "timezone" in response.context["form"].errors


def test_a_saved_old_zone_stays_choosable(client, alice):
    place = Place.objects.create(
        owner=alice, name="Old", latitude=1, longitude=2, timezone="US/Pacific"
    )
    page = client.get(f"/places/{place.pk}/edit/").content.decode()
    assert '<option value="US/Pacific" selected>' in page
    data = form_data(timezone="US/Pacific")
    assert client.post(f"/places/{place.pk}/edit/", data).status_code == 302
    # ... but a new place cannot pick it.
    response = client.post("/places/new/", form_data(timezone="US/Pacific"))
    assert "timezone" in response.context["form"].errors


# --- threshold in percent -------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("50", 0.5),
        ("50%", 0.5),
        (" 37.5 % ", 0.375),
        ("37,5", 0.375),
        ("5", 0.05),
        ("95", 0.95),
        ("0.6", 0.6),  # a fraction, as the form took before
    ],
)
def test_a_percentage_is_stored_as_a_fraction(client, alice, typed, stored):
    response = client.post("/places/new/", form_data(threshold=typed))
    assert response.status_code == 302, response.context["form"].errors
    assert Place.objects.get().threshold == pytest.approx(stored)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("96", "from 5% to 95% (you gave 96%)"),
        ("4", "from 5% to 95% (you gave 4%)"),
        ("0.01", "(you gave 1%)"),
        ("fifty", "as a percentage from 5 to 95"),
        ("1e2", "as a percentage"),
        ("٥٠", "as a percentage"),
        ("5" * 5000, "at most 20 characters"),
        ("", "Pick one of the choices"),
    ],
)
def test_a_bad_threshold_says_why(client, alice, typed, message):
    response = client.post("/places/new/", form_data(threshold=typed))
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert list(errors) == ["threshold"] and message in errors["threshold"][0]
    assert not Place.objects.exists()


def test_parse_percent_refuses_nan_and_infinity():
    for text in ("nan", "inf", "-50", "50%%"):
        with pytest.raises(Exception, match="percentage"):
            parse_percent(text)


def test_a_preset_wins_over_the_typed_value(client, alice):
    data = form_data(threshold_preset="80", threshold="nonsense")
    assert client.post("/places/new/", data).status_code == 302
    assert Place.objects.get().threshold == 0.8


def test_the_form_shows_presets_and_the_saved_percentage(client, alice):
    preset = Place.objects.create(
        owner=alice, name="A", latitude=1, longitude=2, threshold=0.6
    )
    page = client.get(f"/places/{preset.pk}/edit/").content.decode()
    assert re.search(r'value="60"[^>]*checked', page)
    assert "Only when very likely (80%)" in page and "Possible (30%)" in page
    own = Place.objects.create(
        owner=alice, name="B", latitude=1, longitude=2, threshold=0.45
    )
    page = client.get(f"/places/{own.pk}/edit/").content.decode()
    assert re.search(r'value="custom"[^>]*checked', page)
    assert 'name="threshold" value="45"' in page
    # A new place starts at "even chance".
    page = client.get("/places/new/").content.decode()
    assert re.search(r'value="50"[^>]*checked', page)


# --- errors ---------------------------------------------------------------


def test_each_error_is_tied_to_its_field_and_summarised(client, alice):
    data = form_data(latitude="91", threshold="200", name="")
    page = client.post("/places/new/", data).content.decode()
    summary = page.split('id="error-summary"')[1].split("</div>")[0]
    for name in ("name", "latitude", "threshold"):
        tag = re.search(rf'<input [^>]*name="{name}"[^>]*>', page).group(0)
        assert 'aria-invalid="true"' in tag
        described = re.search(r'aria-describedby="([^"]+)"', tag).group(1).split()
        assert f"id_{name}_error" in described
        assert f'id="id_{name}_error"' in page
        assert f'href="#id_{name}"' in summary
        # The error sits under its own field, not somewhere else.
        block = page.split(f'id="field-{name}"')[1].split('<div class="field')[0]
        assert f'id="id_{name}_error"' in block
    tag = re.search(r'<input [^>]*name="longitude"[^>]*>', page).group(0)
    assert "aria-invalid" not in tag
    assert "<title>Error: Add a place" in page


def test_an_unknown_webhook_host_is_said_plainly(client, alice):
    data = form_data(webhook_url="https://no-such-host.invalid/hook")
    page = client.post("/places/new/", data).content.decode()
    assert "the host no-such-host.invalid could not be found" in page
    assert "Errno" not in page and "Name or service" not in page
    assert 'href="#id_webhook_url"' in page


def test_equal_quiet_hours_are_refused(client, alice):
    response = client.post(
        "/places/new/", form_data(quiet_start="22:00", quiet_end="22:00")
    )
    errors = response.context["form"].errors
    assert list(errors) == ["quiet_end"]
    assert "22:00 to 22:00 would be no quiet hours at all" in errors["quiet_end"][0]
    ok = client.post("/places/new/", form_data(quiet_start="22:00", quiet_end="07:00"))
    assert ok.status_code == 302
    assert Place.objects.get().quiet_end == dt.time(7)


# --- channels -------------------------------------------------------------


def test_saving_with_no_channel_warns(client, alice):
    data = form_data()
    del data["email_enabled"]
    response = client.post("/places/new/", data, follow=True)
    assert "has no channel on" in response.content.decode()
    place = Place.objects.get()
    page = client.get(f"/places/{place.pk}/edit/").content.decode()
    assert 'id="no-channel"' in page
    # With email on, no warning.
    response = client.post(f"/places/{place.pk}/edit/", form_data(), follow=True)
    assert "has no channel on" not in response.content.decode()
    page = client.get(f"/places/{place.pk}/edit/").content.decode()
    assert 'id="no-channel"' not in page


def test_the_pages_ask_delivery_which_channels_are_on(client, alice, monkeypatch):
    """One answer to "which channels are on" (alerting/delivery.channels):
    the warnings after saving, on the form and on the place's page follow
    it, whatever it says."""
    from weatherapp.alerting import delivery
    from weatherapp.web.forms import PlaceForm

    assert not hasattr(PlaceForm, "has_no_channel")  # never called: gone
    monkeypatch.setattr(delivery, "channels", lambda place: [])
    response = client.post("/places/new/", form_data(), follow=True)
    assert "has no channel on" in response.content.decode()
    place = Place.objects.get()
    assert place.email_enabled
    page = client.get(f"/places/{place.pk}/edit/").content.decode()
    assert 'id="no-channel"' in page
    page = client.get(place.get_absolute_url()).content.decode()
    assert "Email and webhook are both off" in page


@pytest.fixture
def hooked(alice, webhook_receiver, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    return Place.objects.create(
        owner=alice,
        name="Hooked",
        latitude=1,
        longitude=2,
        webhook_url=webhook_receiver.url,
    )


def test_send_test_posts_a_signed_test_payload(client, hooked, webhook_receiver):
    response = client.post(f"/places/{hooked.pk}/webhook/test/", follow=True)
    assert "the receiver answered HTTP 200" in response.content.decode()
    (got,) = webhook_receiver.received
    body = json.loads(got["body"])
    assert body["type"] == "rain.test" and body["place"]["id"] == hooked.pk
    timestamp = int(got["headers"][TIMESTAMP_HEADER])
    expected = sign(hooked.webhook_secret, timestamp, got["body"])
    assert got["headers"][SIGNATURE_HEADER] == expected
    assert got["headers"]["Idempotency-Key"].startswith("weatheralert-test-")


def test_send_test_shows_a_failing_status(client, hooked, webhook_receiver):
    webhook_receiver.statuses = [503]
    page = client.post(f"/places/{hooked.pk}/webhook/test/", follow=True)
    assert "did not arrive: the receiver answered HTTP 503" in page.content.decode()


@pytest.fixture
def self_signed_receiver(tmp_path):
    """An HTTPS receiver whose certificate no one trusts."""
    import shutil
    import ssl
    import subprocess
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes"]
        + ["-keyout", str(key), "-out", str(cert), "-days", "1"]
        + ["-subj", "/CN=127.0.0.1"],
        check=True,
        capture_output=True,
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


def test_an_untrusted_certificate_is_said_in_words_and_not_retried(
    client, hooked, self_signed_receiver
):
    """It read "no answer: SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_
    FAILED] ... (_ssl.c:1006)", and alerts retried it four times."""
    from weatherapp.alerting.webhooks import post_signed

    hooked.webhook_url = self_signed_receiver
    hooked.save()
    page = client.post(f"/places/{hooked.pk}/webhook/test/", follow=True)
    text = page.content.decode()
    assert (
        "did not arrive: the receiver&#x27;s TLS certificate is not trusted "
        "(self-signed certificate)" in text
    )
    assert "_ssl.c" not in text and "no answer" not in text
    result = post_signed(hooked, {"type": "rain.test"}, "key")
    assert (result.outcome, result.retry) == ("failed", False)


def test_https_to_a_plain_http_receiver_is_said_and_not_retried(
    client, hooked, webhook_receiver
):
    from weatherapp.alerting.webhooks import post_signed

    hooked.webhook_url = webhook_receiver.url.replace("http://", "https://", 1)
    hooked.save()
    result = post_signed(hooked, {"type": "rain.test"}, "key")
    assert result.outcome == "failed" and not result.retry
    assert result.detail.startswith("TLS failed (")


def test_a_closed_port_is_said_in_words(client, hooked):
    from support import free_port

    hooked.webhook_url = f"http://127.0.0.1:{free_port()}/hook"
    hooked.save()
    page = client.post(f"/places/{hooked.pk}/webhook/test/", follow=True)
    assert "did not arrive: the connection was refused" in page.content.decode()


def test_send_test_refuses_a_private_address(client, hooked, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    page = client.post(f"/places/{hooked.pk}/webhook/test/", follow=True)
    assert "not sent: 127.0.0.1 resolves to a non-public address" in (
        page.content.decode()
    )


def test_send_test_needs_post_and_the_owner(client, hooked, webhook_receiver):
    assert client.get(f"/places/{hooked.pk}/webhook/test/").status_code == 405
    other = Client()
    other.force_login(User.objects.create_user("mallory", "m@example.com"))
    assert other.post(f"/places/{hooked.pk}/webhook/test/").status_code == 404
    assert webhook_receiver.received == []


def test_the_secret_can_be_copied_and_rotated(client, hooked):
    page = client.get(f"/places/{hooked.pk}/edit/").content.decode()
    old = hooked.webhook_secret
    assert f'<code id="webhook-secret">{old}</code>' in page
    assert 'id="copy-secret" data-copy="webhook-secret" hidden' in page
    assert "navigator.clipboard.writeText" in page and "Ctrl+C" in page
    url = f"/places/{hooked.pk}/webhook/rotate/"
    assert "Yes, make a new secret" in client.get(url).content.decode()
    hooked.refresh_from_db()
    assert hooked.webhook_secret == old  # asking is not doing
    csrf = Client(enforce_csrf_checks=True)
    csrf.force_login(hooked.owner)
    assert csrf.post(url).status_code == 403
    response = client.post(url)
    assert response.status_code == 302
    hooked.refresh_from_db()
    assert hooked.webhook_secret != old and len(hooked.webhook_secret) >= 40
