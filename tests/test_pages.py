"""Server-rendered pages: accounts, places, alerts; nobody sees another's."""

import datetime as dt
import re

import pytest
from django.contrib.auth.models import User
from django.core import mail

from tests.conftest import store_prediction
from weatherapp.alerting.unsubscribe import unsubscribe_token
from weatherapp.models import Alert, Delivery, Place, Prediction

pytestmark = pytest.mark.django_db
NOON = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC)


@pytest.fixture
def alice():
    return User.objects.create_user("alice", "alice@example.com", "pw-alice-123")


@pytest.fixture
def place(alice):
    place = Place.objects.create(
        owner=alice, name="Home", latitude=36.1, longitude=-79.9
    )
    for h in range(6):
        store_prediction(
            place,
            NOON - dt.timedelta(hours=h),
            0.734 - h * 0.1,
            "v1",
        )
    alert = Alert.objects.create(
        place=place, event_started_at=NOON, probability=0.734, status="sent"
    )
    Delivery.objects.create(alert=alert, channel="email", outcome="sent", detail="ok")
    return place


@pytest.fixture
def mallory(client):
    User.objects.create_user("mallory", "m@example.com", "pw-mallory-123")
    client.login(username="mallory", password="pw-mallory-123")
    return client


def test_pages_need_a_login(client, place):
    for url in (place.get_absolute_url(), "/places/new/", "/alerts/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_sign_up_add_a_place_and_see_it(client):
    response = client.post(
        "/signup/",
        {
            "username": "bob",
            "email": "bob@example.com",
            "password1": "a-long-rain-pass",
            "password2": "a-long-rain-pass",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/places/new/"
    response = client.post(
        "/places/new/",
        {
            "name": "Office",
            "latitude": "52.52",
            "longitude": "13.405",
            "timezone": "Europe/Berlin",
            "threshold": "0.6",
            "quiet_start": "22:00",
            "quiet_end": "07:00",
            "email_enabled": "on",
            "active": "on",
        },
    )
    place = Place.objects.get(name="Office")
    assert (
        response.status_code == 302 and response["Location"] == place.get_absolute_url()
    )
    assert place.owner.username == "bob"
    assert place.quiet_start == dt.time(22) and place.timezone == "Europe/Berlin"
    assert (place.cell.latitude, place.cell.longitude) == (52.5, 13.4)
    assert "Office" in client.get("/").content.decode()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"latitude": "91"}, "latitude"),
        ({"longitude": "-181"}, "longitude"),
        ({"latitude": "nan"}, "latitude"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"threshold": "1.5"}, "threshold"),
        # Under the missing end (it was only in the summary).
        ({"quiet_start": "22:00"}, "quiet_end"),
        ({"quiet_end": "07:00"}, "quiet_start"),
        ({"webhook_url": "http://127.0.0.1:8000/x"}, "webhook_url"),
        ({"webhook_url": "ftp://example.com/"}, "webhook_url"),
        ({"name": ""}, "name"),
    ],
)
def test_place_form_errors_name_the_field(client, alice, change, field):
    client.login(username="alice", password="pw-alice-123")
    data = {
        "name": "X",
        "latitude": "1",
        "longitude": "2",
        "timezone": "UTC",
        "threshold": "0.5",
        "active": "on",
        **change,
    }
    response = client.post("/places/new/", data)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors
    assert not Place.objects.exists()


def test_place_page_shows_outlook_chart_and_deliveries(client, place):
    client.login(username="alice", password="pw-alice-123")
    page = client.get(place.get_absolute_url()).content.decode()
    assert 'id="probability">73%' in page
    assert '<svg id="chart"' in page
    points = re.search(r'<polyline points="([^"]+)"', page).group(1).split()
    assert len(points) == 6
    assert 'class="threshold"' in page
    assert "email #1: sent" in page


def test_edit_and_delete(client, place):
    client.login(username="alice", password="pw-alice-123")
    url = f"/places/{place.pk}/edit/"
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "name": "Home 2",
            "latitude": "36.1",
            "longitude": "-79.9",
            "timezone": "UTC",
            "threshold": "0.3",
        },
    )
    assert response.status_code == 302
    place.refresh_from_db()
    assert place.name == "Home 2" and not place.active and not place.email_enabled
    assert client.post(f"/places/{place.pk}/delete/").status_code == 302
    assert not Place.objects.exists()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/places/{}/"),
        ("get", "/places/{}/edit/"),
        ("post", "/places/{}/edit/"),
        ("get", "/places/{}/delete/"),
        ("post", "/places/{}/delete/"),
    ],
)
def test_another_persons_place_is_a_404(mallory, place, method, path):
    response = getattr(mallory, method)(path.format(place.pk), {"name": "mine now"})
    assert response.status_code == 404
    place.refresh_from_db()
    assert place.name == "Home"


def test_lists_show_only_your_own(mallory, place):
    assert "Home" not in mallory.get("/").content.decode()
    assert "Home" not in mallory.get("/alerts/").content.decode()


def test_alert_history(client, place):
    client.login(username="alice", password="pw-alice-123")
    page = client.get("/alerts/").content.decode()
    assert "Home" in page and "email #1: sent" in page


def test_unsubscribe_link_works_without_login(client, place):
    url = f"/unsubscribe/{unsubscribe_token(place)}/"
    assert "Stop alert emails for Home" in client.get(url).content.decode()
    place.refresh_from_db()
    assert place.email_enabled  # a GET (a link preview) changes nothing
    response = client.post(url)
    assert response.status_code == 200 and 'id="done"' in response.content.decode()
    place.refresh_from_db()
    assert not place.email_enabled
    # Opened again, the link says it is done and how to undo it (it asked
    # again); the place's page says email is off.
    again = client.get(url).content.decode()
    assert 'id="done"' in again and f"/places/{place.pk}/edit/" in again
    client.force_login(place.owner)
    page = client.get(place.get_absolute_url()).content.decode()
    assert '<span id="channels">email off</span>' in page


def test_unsubscribe_rejects_tampered_and_expired_tokens(client, place, settings):
    token = unsubscribe_token(place)
    assert client.post(f"/unsubscribe/{token[:-2]}xx/").status_code == 400
    settings.UNSUBSCRIBE_MAX_AGE_DAYS = -1
    assert client.post(f"/unsubscribe/{token}/").status_code == 400
    place.refresh_from_db()
    assert place.email_enabled


def test_unsubscribe_token_is_for_one_place_only(client, place, alice):
    other = Place.objects.create(owner=alice, name="Cabin", latitude=1, longitude=1)
    client.post(f"/unsubscribe/{unsubscribe_token(place)}/")
    other.refresh_from_db()
    assert other.email_enabled


def test_password_reset_by_email(client, alice, settings):
    settings.SITE_URL = "https://weather.example.com"
    response = client.post("/accounts/password_reset/", {"email": "alice@example.com"})
    assert response.status_code == 302
    (message,) = mail.outbox
    # Ours, not Django's "Password reset on weather.example.com ... team".
    assert message.subject == "weatheralert: reset your password"
    assert message.body.startswith("Hello alice,\n\nSomeone, we hope you, asked")
    # The link is SITE_URL's, not the request's Host (testserver).
    site = r"https://weather\.example\.com"
    link = re.search(site + r"(/accounts/reset/\S+/)", message.body).group(1)
    form_url = client.get(link)["Location"]  # Django swaps the token for a session
    response = client.post(
        form_url, {"new_password1": "rain-again-456", "new_password2": "rain-again-456"}
    )
    assert response.status_code == 302
    assert client.login(username="alice", password="rain-again-456")


def test_logout_is_a_post(client, alice):
    client.login(username="alice", password="pw-alice-123")
    assert client.get("/accounts/logout/").status_code == 405
    response = client.post("/accounts/logout/", follow=True)
    assert response.redirect_chain == [("/accounts/login/", 302)]
    assert "You are logged out." in response.content.decode()
    # Logged out, / is the landing page again, not the dashboard.
    page = client.get("/").content.decode()
    assert "A warning before it rains" in page and "<h1>Your places" not in page


# Issue 13: local time, statuses, saying when, the chart, first impressions.


@pytest.fixture
def greensboro(alice):
    """A place in New York's zone: noon UTC on 2026-11-28 is 07:00 EST."""
    place = Place.objects.create(
        owner=alice,
        name="Greensboro",
        latitude=36.1,
        longitude=-79.95,
        timezone="America/New_York",
        threshold=0.4,
    )
    for h in range(6):
        store_prediction(
            place,
            NOON - dt.timedelta(hours=h),
            0.67 - h * 0.1,
            "v1",
        )
    Alert.objects.create(
        place=place, event_started_at=NOON, probability=0.67, status="sent"
    )
    return place


def logged_in(client):
    client.login(username="alice", password="pw-alice-123")
    return client


def title(html: str) -> str:
    return re.search(r"<title>(.*?)</title>", html, re.S).group(1).strip()


def test_visitors_get_a_landing_page_with_sign_up_and_log_in(client):
    response = client.get("/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "A warning before it rains" in page
    assert 'href="/signup/"' in page and 'href="/accounts/login/"' in page
    login = client.get("/accounts/login/").content.decode()
    assert "before it rains" in login  # the log-in page says what the app is


def test_the_demo_says_whose_weather_every_place_gets(client, greensboro, settings):
    """Found by a newcomer's walk: a place in Paris got Greensboro's replayed
    rain without a word, and 1980's forecast stood beside today's clock."""
    logged_in(client)
    settings.WEATHER_SOURCE = "replay"
    settings.WEATHER_REPLAY_SPEED = 120.0
    for url in ("/", greensboro.get_absolute_url(), "/places/new/", "/alerts/"):
        page = client.get(url).content.decode()
        assert "every place gets the weather recorded at Greensboro, North " in page
        assert "replayed at 120×" in page
    settings.WEATHER_SOURCE = "open-meteo"
    assert 'id="replay-notice"' not in client.get("/").content.decode()


def test_the_account_page_leads_to_password_and_tokens(client, greensboro):
    """Found by a newcomer's walk: nothing linked to the password change."""
    logged_in(client)
    assert 'href="/account/email/">account</a>' in client.get("/").content.decode()
    page = client.get("/account/email/").content.decode()
    assert 'href="/accounts/password_change/"' in page
    assert 'href="/account/token/"' in page
    assert client.get("/accounts/password_change/").status_code == 200


def test_every_page_has_its_own_title(client, greensboro):
    anonymous = {url: title(client.get(url).content.decode()) for url in ("/",)}
    for url in ("/accounts/login/", "/signup/", "/accounts/password_reset/"):
        anonymous[url] = title(client.get(url).content.decode())
    logged_in(client)
    pages = {
        url: title(client.get(url).content.decode())
        for url in (
            "/",
            greensboro.get_absolute_url(),
            f"/places/{greensboro.pk}/delete/",
            "/alerts/",
            "/account/token/",
            "/account/email/",
        )
    }
    titles = list(anonymous.values()) + list(pages.values())
    assert len(set(titles)) == len(titles), titles


def test_times_are_the_places_local_time_with_its_zone(client, greensboro):
    logged_in(client)
    page = client.get(greensboro.get_absolute_url()).content.decode()
    assert "between 07:00 and 10:00 EST" in page  # the outlook
    assert "2026-11-28 07:00 EST" in page  # the alert and the chart's table
    assert "time (EST)" in page  # the chart's axis
    assert "07:00: 67%" in page  # a point's tooltip
    assert "UTC" not in page
    history = client.get("/alerts/").content.decode()
    assert "2026-11-28 07:00 EST" in history and "UTC" not in history
    dashboard = client.get("/").content.decode()
    assert "between 07:00 and 10:00 EST" in dashboard and "UTC" not in dashboard


def test_a_zone_unknown_here_is_shown_in_utc(client, greensboro):
    # A zone removed from tzdata after the place was saved: no 500, UTC.
    Place.objects.filter(pk=greensboro.pk).update(timezone="US/Pacific-New")
    logged_in(client)
    for url in (greensboro.get_absolute_url(), "/alerts/", "/"):
        response = client.get(url)
        assert response.status_code == 200
        assert "12:00" in response.content.decode() and "UTC" in (
            response.content.decode()
        )


def test_the_outlook_says_when_and_when_it_was_updated(client, greensboro, settings):
    settings.PREDICTION_INTERVAL_SECONDS = 600
    made = dt.datetime(2026, 11, 28, 19, 10, tzinfo=dt.UTC)
    greensboro.predictions().filter(valid_at=NOON).update(created_at=made)
    logged_in(client)
    page = client.get(greensboro.get_absolute_url()).content.decode()
    text = re.sub(r"<[^>]+>|\s+", " ", page)
    assert "Rain likely at Greensboro between 07:00 and 10:00 EST (67%" in text
    assert "Updated 14:10 EST" in text and "about 14:20 EST" in text
    dashboard = re.sub(r"<[^>]+>|\s+", " ", client.get("/").content.decode())
    assert "14:10 EST" in dashboard and "14:20 EST" in dashboard


def test_place_page_and_dashboard_refresh_themselves_other_pages_not(
    client, greensboro, settings
):
    settings.PREDICTION_INTERVAL_SECONDS = 600
    logged_in(client)
    refresh = '<meta http-equiv="refresh" content="600">'
    assert refresh in client.get("/").content.decode()
    assert refresh in client.get(greensboro.get_absolute_url()).content.decode()
    for url in ("/places/new/", f"/places/{greensboro.pk}/edit/", "/account/token/"):
        assert 'http-equiv="refresh"' not in client.get(url).content.decode()


def test_above_threshold_is_said_in_words_not_only_colour(client, greensboro):
    logged_in(client)
    for url in ("/", greensboro.get_absolute_url()):
        assert "above threshold" in client.get(url).content.decode()
    Prediction.objects.filter(cell=greensboro.cell).update(probabilities=(0.1,) * 6)
    for url in ("/", greensboro.get_absolute_url()):
        page = client.get(url).content.decode()
        assert "☔ above threshold" not in page


def test_no_channel_alert_says_so(client, greensboro):
    greensboro.email_enabled = False
    greensboro.save()
    Alert.objects.filter(place=greensboro).update(status=Alert.Status.NO_CHANNEL)
    logged_in(client)
    for url in ("/alerts/", greensboro.get_absolute_url()):
        page = client.get(url).content.decode()
        assert 'class="status">not sent: no channel on<' in page
        assert 'class="status">pending<' not in page and ">none<" not in page
    place_page = client.get(greensboro.get_absolute_url()).content.decode()
    assert "no channel on</span> Email and webhook are both off" in place_page


def test_an_inactive_place_is_off_not_waiting(client, alice):
    place = Place.objects.create(
        owner=alice, name="Cabin", latitude=1, longitude=1, active=False
    )
    logged_in(client)
    for url in ("/", place.get_absolute_url()):
        page = client.get(url).content.decode()
        assert 'class="flag off">off<' in page
        assert "waiting for the first prediction" not in page.lower()


def test_the_chart_has_zone_legend_markers_hours_ahead_and_a_table(
    client, greensboro, settings
):
    settings.ALERT_HYSTERESIS = 0.1
    logged_in(client)
    page = client.get(greensboro.get_absolute_url()).content.decode()
    assert re.search(r'<svg id="chart" class="chart"[^>]* viewBox="0 0 640 240"', page)
    assert "alert at 40%" in page and "rain event ends below 30%" in page
    assert page.count('class="alert-marker"') == 1
    assert "07:00: alert sent" in page
    assert '<rect class="ahead"' in page and "next 3 h (07:00–10:00): 67%" in page
    table = re.search(r'<details id="chart-table">(.*?)</details>', page, re.S)[1]
    assert table.count("<tr><td") == 6 and "67% (above threshold)" in table


def test_chart_ticks_fit_and_name_the_zone():
    from zoneinfo import ZoneInfo

    from weatherapp.web.charts import WIDTH, probability_chart

    # Across the end of daylight saving time in New York (2026-11-01 06:00 UTC).
    end = dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC)
    series = [(end - dt.timedelta(hours=h), 0.3) for h in range(24)]
    chart = probability_chart(series, 0.5, zone=ZoneInfo("America/New_York"), hours=24)
    assert chart.axis_label == "time (EDT/EST)"
    labels = [tick.label for tick in chart.x_ticks]
    assert labels == ["12:00", "18:00", "00:00", "06:00"], labels
    for tick in chart.x_ticks:
        # Half a label's width at the phone's font (21 units) fits either side.
        room = {"middle": 30, "end": 0, "start": -60}[tick.anchor]
        assert chart.left <= tick.x and tick.x + room <= WIDTH
    last = probability_chart([(dt.datetime(2026, 11, 28, 21, tzinfo=dt.UTC), 0.5)], 0.5)
    # The end of the hours ahead falls on a tick (00:00 UTC): anchored inside.
    assert last.x_ticks[-1].label == "00:00" and last.x_ticks[-1].anchor == "end"


def test_the_outlook_says_from_when_rain_is_likely(client, greensboro):
    store_prediction(greensboro, NOON, 0, probabilities=(0.1, 0.2, 0.45, 0.5, 0.6, 0.7))
    logged_in(client)
    text = re.sub(
        r"<[^>]+>|\s+", " ", client.get(greensboro.get_absolute_url()).content.decode()
    )
    # Threshold 40%: reached first within 3 hours, so from the third hour on.
    assert "Rain likely from about 09:00 EST" in text


def test_open_meteo_stands_beside_ours_and_can_be_followed(client, greensboro):
    store_prediction(
        greensboro,
        NOON,
        0,
        probabilities=(0.1, 0.2, 0.3, 0.3, 0.3, 0.3),
        provider=(0.5, 0.6, 0.62, 0.7, 0.7, 0.7),
    )
    logged_in(client)
    url = greensboro.get_absolute_url()
    text = re.sub(r"<[^>]+>|\s+", " ", client.get(url).content.decode())
    assert "our model 30% · Open-Meteo 62%" in text
    assert "☔ above threshold" not in text  # 30% < 40%: ours is followed
    Place.objects.filter(pk=greensboro.pk).update(forecaster="open_meteo")
    text = re.sub(r"<[^>]+>|\s+", " ", client.get(url).content.decode())
    assert "(alerts follow Open-Meteo)" in text and "☔ above threshold" in text
    assert "Rain likely from about 07:00 EST" in text
