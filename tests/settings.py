"""The app's settings for in-process tests: Django's test client and the live
server speak plain http, so production's redirect to https is off."""

from weatheralert.settings import *  # noqa: F403

SECURE_SSL_REDIRECT = False
