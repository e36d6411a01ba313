"""The app's settings for in-process tests: Django's test client and the live
server speak plain http, so production's redirect to https is off."""

import os
import secrets

# Production settings refuse to start without a secret key; the tests (and the
# processes they start, which inherit this environment) use a throwaway one.
os.environ.setdefault("SECRET_KEY", f"tests-{secrets.token_urlsafe(40)}")

from weatheralert.settings import *  # noqa: E402, F403

SECURE_SSL_REDIRECT = False
# Every test client speaks from 127.0.0.1 within the same minute; the tests
# of the limits themselves set their own.
PREDICT_RATE_LIMIT = "1000000/60"
LOGIN_RATE_LIMIT = "1000000/60"
LOGIN_ADDRESS_RATE_LIMIT = "1000000/60"
LOGIN_USERNAME_RATE_LIMIT = "1000000/60"
PASSWORD_RESET_EMAIL_RATE_LIMIT = "1000000/60"
PASSWORD_RESET_ADDRESS_RATE_LIMIT = "1000000/60"
# Every response to the test Client under /api/ is checked against the OpenAPI
# document (tests/openapi_contract.py); outermost, so it sees every answer.
MIDDLEWARE = ["tests.openapi_contract.ContractMiddleware", *MIDDLEWARE]  # noqa: F405
