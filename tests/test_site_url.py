"""Links in emails lead to the app: the demo sets SITE_URL from the address it
listens on (127.0.0.1 unless told otherwise), and a dyno without a usable
SITE_URL fails the system checks that `check --deploy` and the release run."""

import datetime as dt
import subprocess
import sys

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError

from support import ROOT, child_env, free_port
from weatherapp.alerting.mail import email_message
from weatherapp.management.commands import demo
from weatherapp.models import Alert, Place
from weatherapp.ops.checks import check_site_url

from .conftest import wait_for


def test_the_demos_links_use_its_own_port():
    env = demo.demo_env("127.0.0.1", 8101, 120.0, 15.0, start="1980-06-01T00:00")
    assert env["SITE_URL"] == "http://127.0.0.1:8101"
    assert env["GUNICORN_CMD_ARGS"] == "--bind 127.0.0.1:8101"
    assert "127.0.0.1" in env["ALLOWED_HOSTS"].split(",")
    assert env["DEBUG"] == "true"


def test_the_demo_listens_on_127_0_0_1_unless_told_otherwise():
    parser = demo.Command().create_parser("manage.py", "demo")
    options = parser.parse_args(["--port", "8101"])
    assert options.host == "127.0.0.1"
    assert demo.site_address(options.host, options.port) == (
        "127.0.0.1:8101",
        "http://127.0.0.1:8101",
    )


@pytest.mark.parametrize(
    ("host", "bind", "site_url", "allowed"),
    [
        ("::1", "[::1]:8101", "http://[::1]:8101", "[::1]"),
        # Every interface: the links use this machine's loopback.
        ("0.0.0.0", "0.0.0.0:8101", "http://127.0.0.1:8101", "*"),
        ("::", "[::]:8101", "http://[::1]:8101", "*"),
        ("demo.example", "demo.example:8101", "http://demo.example:8101", None),
    ],
)
def test_other_demo_hosts(host, bind, site_url, allowed):
    env = demo.demo_env(host, 8101, 120.0, 15.0, start="")
    assert env["GUNICORN_CMD_ARGS"] == f"--bind {bind}"
    assert env["SITE_URL"] == site_url
    hosts = env["ALLOWED_HOSTS"].split(",")
    assert (allowed or host) in hosts
    # Django's debug pages (a traceback, the whole URLconf) only on loopback.
    assert env["DEBUG"] == ("true" if host == "::1" else "false")


@pytest.mark.parametrize(
    "args",
    [
        ["--host", "not a host"],
        ["--host", "evil.example/path"],
        ["--host", ""],
        ["--port", "0"],
        ["--port", "70000"],
    ],
)
def test_the_demo_refuses_a_bad_address_with_a_clear_error(args):
    with pytest.raises(CommandError, match="--host|--port"):
        call_command("demo", *args)


@pytest.mark.django_db
def test_an_email_built_with_the_demos_site_url_links_to_its_port(settings):
    settings.SITE_URL = demo.demo_env("127.0.0.1", 8101, 120.0, 15.0, "")["SITE_URL"]
    owner = User.objects.create_user("ann", "ann@example.com", "pw")
    place = Place.objects.create(
        owner=owner, name="Home", latitude=36.1, longitude=-79.95
    )
    alert = Alert.objects.create(
        place=place,
        event_started_at=dt.datetime(2026, 11, 28, 20, tzinfo=dt.UTC),
        probability=0.67,
    )
    message = email_message(alert)
    links = [
        line.split(": ", 1)[1] for line in message.body.splitlines() if "http" in line
    ]
    assert links and all(link.startswith("http://127.0.0.1:8101/") for link in links)
    assert message.extra_headers["List-Unsubscribe"].startswith(
        "<http://127.0.0.1:8101/unsubscribe/"
    )
    assert "localhost:8000" not in message.message().as_string()


# --- the system check ---------------------------------------------------------


@pytest.mark.parametrize(
    ("site_url", "fails"),
    [
        (None, True),  # unset: the default http://localhost:8000
        ("", True),
        ("http://localhost:8000", True),
        ("http://127.0.0.1:5000", True),
        ("http://[::1]:8000", True),
        ("http://app.localhost", True),
        ("http://0.0.0.0", True),
        ("weatheralert.herokuapp.com", True),  # no scheme: not a link
        ("https://:443", True),
        ("https://x.example:99999", True),
        ("https://weatheralert.herokuapp.com", False),
        ("https://weather.example.com", False),
    ],
)
def test_a_dyno_needs_a_site_url_that_leads_to_the_app(
    monkeypatch, settings, site_url, fails
):
    monkeypatch.setenv("DYNO", "web.1")
    if site_url is None:
        monkeypatch.delenv("SITE_URL", raising=False)
        settings.SITE_URL = "http://localhost:8000"
    else:
        monkeypatch.setenv("SITE_URL", site_url)
        settings.SITE_URL = site_url.rstrip("/")
    errors = check_site_url(None)
    assert [e.id for e in errors] == (["weatherapp.E002"] if fails else [])
    if fails:
        assert "SITE_URL" in errors[0].msg and errors[0].hint


def test_off_a_dyno_the_default_site_url_is_fine(monkeypatch, settings):
    monkeypatch.delenv("DYNO", raising=False)
    monkeypatch.delenv("SITE_URL", raising=False)
    settings.SITE_URL = "http://localhost:8000"
    assert check_site_url(None) == []


def test_check_deploy_fails_on_a_dyno_without_site_url():
    env = child_env(
        DYNO="web.1", SECRET_KEY="k" * 64 + "-not-a-real-secret-x9", DEBUG="false"
    )
    env.pop("SECURE_SSL_REDIRECT")
    env.pop("SITE_URL", None)
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    assert "weatherapp.E002" in done.stderr and "SITE_URL is not set" in done.stderr


@pytest.mark.slow
def test_the_demos_web_line_listens_on_loopback_at_its_port(spawn, tmp_path):
    """The Procfile's web line with the demo's environment: gunicorn binds
    127.0.0.1:<port>, not 0.0.0.0:$PORT."""
    import support

    port = free_port()
    env = demo.demo_env("127.0.0.1", port, 120.0, 15.0, start="")
    env["WEATHERALERT_VAR_DIR"] = str(tmp_path)
    web = spawn("web", support.procfile_args("web"), env)
    wait_for(
        lambda: f"Listening at: http://127.0.0.1:{port}" in web.output(),
        timeout=30,
        what="gunicorn to listen",
    )
