"""The hand-written OpenAPI document (weatherapp/web/openapi.py) is a checked
contract: valid OpenAPI, a schema for every JSON answer, every object's required
keys listed, and the same paths and methods as weatheralert/urls.py. That every
test-Client answer under /api/ matches it is checked by the middleware in
tests/openapi_contract.py and the autouse fixture in tests/conftest.py."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls import path as route

from tests import openapi_contract as contract
from weatherapp.web.openapi import document

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


@pytest.fixture(scope="module")
def doc() -> dict:
    return contract.spec()


def test_the_document_is_valid_openapi_of_its_declared_version(doc):
    from openapi_spec_validator import (
        OpenAPIV30SpecValidator,
        OpenAPIV31SpecValidator,
        validate,
    )

    validators = {"3.0": OpenAPIV30SpecValidator, "3.1": OpenAPIV31SpecValidator}
    version = ".".join(doc["openapi"].split(".")[:2])
    assert version in validators, doc["openapi"]
    validate(doc, cls=validators[version])


def test_served_document_is_the_one_checked(client):
    assert client.get("/api/v1/openapi.json").json() == contract.spec()
    assert document()["openapi"] == contract.spec()["openapi"]


def operations(doc) -> Iterator[tuple[str, str, dict]]:
    for path, item in doc["paths"].items():
        for method in contract.METHODS:
            if method in item:
                yield path, method, item[method]


def test_every_operation_answers_with_schemas(doc):
    missing = []
    for path, method, operation in operations(doc):
        assert operation["responses"], f"{method} {path} has no responses"
        for status, response in operation["responses"].items():
            if "$ref" in response:
                _, response = contract._follow(response["$ref"][1:])
            content = response.get("content")
            where = f"{method.upper()} {path} {status}"
            if not content:
                missing.append(f"{where}: no content")
            elif "schema" not in content.get("application/json", {}):
                missing.append(f"{where}: no application/json schema")
    assert not missing, "\n".join(missing)


def schemas(doc) -> Iterator[tuple[str, dict]]:
    """Every schema object in the document, with where it is."""
    roots = [
        (f"#/components/schemas/{name}", schema)
        for name, schema in doc.get("components", {}).get("schemas", {}).items()
    ]
    for path, method, operation in operations(doc):
        where = f"{method.upper()} {path}"
        for parameter in operation.get("parameters", []):
            if "schema" in parameter:
                roots.append((f"{where} {parameter['name']}", parameter["schema"]))
        body = operation.get("requestBody", {}).get("content", {})
        for media_type, content in body.items():
            if "schema" in content:
                roots.append((f"{where} request {media_type}", content["schema"]))
        for status, response in operation["responses"].items():
            for media_type, content in response.get("content", {}).items():
                if "schema" in content:
                    roots.append((f"{where} {status} {media_type}", content["schema"]))
    stack = roots
    while stack:
        where, schema = stack.pop()
        if not isinstance(schema, dict):
            continue
        yield where, schema
        for key in ("items", "additionalProperties", "not", "contains"):
            if key in schema:
                stack.append((f"{where}.{key}", schema[key]))
        for key in ("properties", "patternProperties", "$defs", "definitions"):
            for name, sub in schema.get(key, {}).items():
                stack.append((f"{where}.{name}", sub))
        for key in ("allOf", "anyOf", "oneOf", "prefixItems"):
            for i, sub in enumerate(schema.get(key, [])):
                stack.append((f"{where}.{key}[{i}]", sub))


def test_every_object_schema_lists_its_required_properties(doc):
    found = list(schemas(doc))
    assert len(found) > 20  # the walk reaches into the schemas
    unlisted = [
        where
        for where, schema in found
        if "properties" in schema and "required" not in schema
    ]
    assert not unlisted, "object schemas without required:\n" + "\n".join(unlisted)
    for where, schema in found:
        for name in schema.get("required", []):
            assert name in schema.get("properties", {}) or "allOf" in schema, (
                f"{where}: required {name!r} is not a property"
            )


def api_patterns() -> dict[str, URLPattern]:
    """URL patterns under api/ as OpenAPI path templates."""
    found = {}
    for pattern in get_resolver().url_patterns:
        assert not (isinstance(pattern, URLResolver) and "api" in str(pattern.pattern))
        route = str(pattern.pattern)
        if isinstance(pattern, URLPattern) and route.startswith("api/"):
            found["/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)] = pattern
    return found


def test_every_api_url_is_documented_and_every_documented_path_exists(doc):
    from django.urls import Resolver404, resolve

    documented = {p for p in doc["paths"] if p.startswith("/api/")}
    assert set(api_patterns()) == documented
    for path in doc["paths"]:  # /healthz too
        try:
            resolve(re.sub(r"\{\w+\}", "1", path))
        except Resolver404:
            pytest.fail(f"{path} is documented but not routed")


@pytest.mark.parametrize("path", sorted(p for p in document()["paths"]))
def test_documented_methods_are_the_ones_the_view_accepts(doc, path):
    """A method is accepted when the view answers anything but a 405."""
    from django.urls import resolve

    url = re.sub(r"\{\w+\}", "1", path)
    match = resolve(url)
    accepted = set()
    for method in METHODS:
        request = RequestFactory().generic(method, url)
        response = match.func(request, *match.args, **match.kwargs)
        if response.status_code != 405:
            accepted.add(method.lower())
        else:
            documented = [
                m.upper() for m in contract.METHODS if m in doc["paths"][path]
            ]
            assert response["Allow"] == ", ".join(documented)
    assert accepted == {m for m in contract.METHODS if m in doc["paths"][path]}


def test_the_checker_finds_paths_statuses_and_bodies():
    """The contract checker itself: what it accepts and what it reports."""
    ok = b'{"error": "x"}'
    json_ = "application/json"
    assert contract.find_path("/api/v1/places/7") == "/api/v1/places/{place_id}"
    assert contract.find_path("/api/v1/places/7/predictions").endswith("predictions")
    assert contract.find_path("/api/v1/nope") is None
    assert contract.check("GET", "/api/v1/places/7", 404, json_, ok) == []
    assert contract.check("PUT", "/api/v1/places/7", 405, json_, ok) == []
    assert contract.check("GET", "/elsewhere", 500, "text/html", b"<p>") == []
    # Unrouted paths under /api/: the catch-all's JSON 404, whatever the method.
    assert contract.check("GET", "/api/v1/nope", 404, json_, ok) == []
    assert contract.check("DELETE", "/api/nope/x", 404, json_, ok) == []
    broken = {
        ("GET", "/api/v1/nope", 200, json_, ok): "so it must be a 404",
        ("POST", "/api/v1/nope", 405, json_, ok): "so it must be a 404",
        ("GET", "/api/v1/nope", 404, "text/html", b"<p>"): "Content-Type",
        ("GET", "/api/v1/nope", 404, json_, b"{}"): "'error' is a required",
        ("GET", "/api/v1/places/7", 418, json_, ok): "status 418 not documented",
        ("PUT", "/api/v1/places/7", 200, json_, ok): "must be a 405",
        ("GET", "/api/v1/places/7", 404, "text/html", ok): "Content-Type",
        ("GET", "/api/v1/places/7", 404, json_, b"<html>"): "not JSON",
        ("GET", "/api/v1/places/7", 404, json_, b"{}"): "'error' is a required",
        ("GET", "/api/v1/alerts", 200, json_, b'{"alerts": [{}]}'): "required",
        ("GET", "/api/v1/places", 200, json_, b'{"places": 3, "next": null}'): (
            "not of type"
        ),
    }
    for args, message in broken.items():
        problems = contract.check(*args)
        assert problems and message in problems[0], (args, problems)


def html_not_found(request):
    return HttpResponse("<p>no</p>", status=404)


# The URLconf of the next test: an API path answered with HTML.
urlpatterns = [route("api/v1/no-such-thing", html_not_found)]


@pytest.mark.django_db
@pytest.mark.urls("tests.test_openapi")
def test_the_middleware_records_what_breaks_the_contract(client):
    client.get("/api/v1/no-such-thing")
    found = contract.take()
    assert len(found) == 1
    assert found[0].startswith("GET /api/v1/no-such-thing -> 404: Content-Type")


def test_the_api_catch_all_is_the_last_api_route():
    patterns = [
        p
        for p in get_resolver().url_patterns
        if str(p.pattern).lstrip("^")[:4] == "api/"
    ]
    assert str(patterns[-1].pattern) == "^api/"
    assert patterns[-1].callback.__name__ == "not_found"


@pytest.mark.django_db
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    "path", ["/api/", "/api/v2/places", "/api/v1/places/1/x", "/api/v1/predict/"]
)
def test_unknown_api_paths_are_a_json_404_for_every_method(method, path):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    response = client.generic(method, path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    if method != "HEAD":
        assert response.json()["field"] == "path"
        assert path in response.json()["error"]
