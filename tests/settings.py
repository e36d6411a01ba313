"""The app's settings for in-process tests: Django's test client and the live
server speak plain http, so production's redirect to https is off."""

from weatheralert.settings import *  # noqa: F403

SECURE_SSL_REDIRECT = False
# Every test client speaks from 127.0.0.1 within the same minute; the tests
# of the limits themselves set their own.
PREDICT_RATE_LIMIT = "1000000/60"
LOGIN_RATE_LIMIT = "1000000/60"
# Every response to the test Client under /api/ is checked against the OpenAPI
# document (tests/openapi_contract.py); outermost, so it sees every answer.
MIDDLEWARE = ["tests.openapi_contract.ContractMiddleware", *MIDDLEWARE]  # noqa: F405
