#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "weatheralert.settings")
    from django.core.management import execute_from_command_line

    from weatheralert.env import ConfigVarError

    try:
        execute_from_command_line(sys.argv)
    except ConfigVarError as exc:
        # A config var the settings refuse (release phase included): its
        # name and value in one line, not a traceback through Django.
        sys.exit(f"error: {exc}")


if __name__ == "__main__":
    main()
