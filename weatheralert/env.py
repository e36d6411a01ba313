"""Config vars read as the app's types. Django-free but for its exception,
so that settings.py, manage.py and gunicorn.conf.py read them alike and a
bad one stops a process with its name in one line."""

import os

from django.core.exceptions import ImproperlyConfigured


class ConfigVarError(ImproperlyConfigured):
    """A config var that cannot be read: manage.py and gunicorn.conf.py print
    it in one line."""


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in (
        "1",
        "true",
        "yes",
        "on",
    )


def env_float(name: str, default: float | str) -> float:
    """A number from the environment; a value that is not one stops the app
    with the variable's name (release phase included), not a bare ValueError."""
    raw = os.environ.get(name, str(default))
    try:
        value = float(raw)
    except ValueError:
        raise ConfigVarError(f"{name}={raw!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ConfigVarError(f"{name}={raw!r} is not a finite number")
    return value


def env_int(name: str, default: int | str) -> int:
    raw = os.environ.get(name, str(default))
    try:
        return int(raw)
    except ValueError:
        raise ConfigVarError(f"{name}={raw!r} is not a whole number") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [
        item.strip()
        for item in os.environ.get(name, default).split(",")
        if item.strip()
    ]
