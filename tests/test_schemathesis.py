"""Schemathesis against the app in process: the served /api/v1/openapi.json
drives generated requests (schema-valid and schema-violating) to Django's WSGI
application, and every answer must be no 5xx and conform to the document
(status codes, content types, headers, response schemas, auth enforced,
invalid input refused).

The one check left out is "schema-valid predict bodies are accepted" for
POST /api/v1/predict: a body also needs 24 consecutive hours, arrays of equal
length and values in physical range, which JSON Schema cannot say, so its
400s are right (tests/test_api.py tests them one by one).
"""

import os
from collections import Counter

import pytest
from django.contrib.auth.models import User

from weatherapp.models import ApiToken, Place

pytestmark = [pytest.mark.slow, pytest.mark.django_db]
# Examples per operation and generation mode (positive and negative).
EXAMPLES = 150 if os.environ.get("HYPOTHESIS_PROFILE") == "ci" else 25


def test_schemathesis_finds_no_server_error_and_no_contract_break(settings):
    schemathesis = pytest.importorskip("schemathesis")
    from django.core.wsgi import get_wsgi_application
    from hypothesis import HealthCheck, given
    from hypothesis import settings as hypothesis_settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis.checks import positive_data_acceptance
    from schemathesis.core.failures import FailureGroup
    from schemathesis.generation.modes import GenerationMode

    settings.PREDICT_RATE_LIMIT = "1000000000/60"
    owner = User.objects.create(username="st", email="st@example.com")
    place = Place.objects.create(owner=owner, name="P", latitude=1, longitude=2)
    auth = {"Authorization": f"Bearer {ApiToken.issue(owner)[1]}"}

    schema = schemathesis.openapi.from_wsgi(
        "/api/v1/openapi.json", get_wsgi_application()
    )
    # Unknown query parameters are ignored, as HTTP APIs commonly do.
    schema.config.generation.update(allow_extra_parameters=False)
    statuses: Counter[tuple[str, int]] = Counter()
    failures: set[str] = set()

    def exercise(operation, mode):
        # Schema-valid predict bodies may still be refused (see the docstring).
        excluded = [positive_data_acceptance] if operation.method == "post" else []

        @given(case=operation.as_strategy(generation_mode=mode))
        @hypothesis_settings(
            max_examples=EXAMPLES, suppress_health_check=list(HealthCheck)
        )
        def run(case):
            response = case.call(headers=auth)
            statuses[(operation.label, response.status_code)] += 1
            try:
                case.validate_response(response, headers=auth, excluded_checks=excluded)
            except FailureGroup as group:
                for failure in group.exceptions:
                    failures.add(
                        f"{operation.label} ({mode.value}): "
                        f"{type(failure).__name__}: {str(failure)[:500]}"
                    )

        try:
            run()
        except Unsatisfiable:
            assert mode == GenerationMode.NEGATIVE  # nothing to break: /healthz

    for result in schema.get_all_operations():
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            exercise(result.ok(), mode)

    total = sum(statuses.values())
    print(f"schemathesis: {total} requests, {len(failures)} failures")
    for (label, status), count in sorted(statuses.items()):
        print(f"  {label} -> {status}: {count}")
    assert total >= EXAMPLES * 6
    assert not [key for key in statuses if key[1] >= 500]
    assert not failures, "\n".join(sorted(failures))
    # Some generated ids are the real place's (ids start small in a test DB).
    assert statuses[("GET /api/v1/places/{place_id}", 200)] > 0, place.pk
