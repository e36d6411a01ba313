"""Every in-process API response checked against the hand-written OpenAPI
document (weatherapp/web/openapi.py).

``check()`` finds the operation for a request path and method, the response
for the status (exact, then ``4XX``, then ``default``) and validates the JSON
body with jsonschema in the dialect the document's version implies (3.1: JSON
Schema 2020-12; 3.0: openapi-schema-validator's OAS30Validator), ``$ref``s
resolved within the document. ``ContractMiddleware`` (added in tests/settings.py)
runs it on every response to Django's test Client under /api/ (and on any other
documented path) and records what breaks the contract; the autouse fixture at
the end of tests/conftest.py fails the test that made such a request.

A method the path does not document must be answered 405 with the Error
schema that the path's operations give for 405. A path under a prefix that no
entry of ``paths`` matches is held to the document's ``x-unrouted`` responses
(the catch-all route: a JSON 404 whatever the method).
"""

from __future__ import annotations

import functools
import json
import re
import threading
from typing import Any

from django.test.client import FakePayload

BASE = "urn:weatheralert:openapi"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
SCOPE = "/api/"
MAX_RECORDED = 50

_violations: list[str] = []
_lock = threading.Lock()


@functools.cache
def spec() -> dict[str, Any]:
    """The document as /api/v1/openapi.json serves it."""
    from weatherapp.web.openapi import document

    return json.loads(json.dumps(document()))


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def pointer(*tokens: str) -> str:
    return "".join(f"/{_escape(str(t))}" for t in tokens)


def resolve(pointer_: str) -> Any:
    node: Any = spec()
    for token in pointer_.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


def _follow(ptr: str) -> tuple[str, Any]:
    """The object at ``ptr`` and its pointer, through local ``$ref``s."""
    node = resolve(ptr)
    seen = set()
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/") or ref in seen:
            raise ValueError(f"unsupported $ref {ref!r} at {ptr}")
        seen.add(ref)
        ptr = ref[1:]
        node = resolve(ptr)
    return ptr, node


@functools.cache
def _routes() -> list[tuple[re.Pattern[str], str]]:
    routes = []
    for template in spec()["paths"]:
        parts = re.split(r"(\{[^}/]+\})", template)
        regex = "".join(
            "[^/]+" if p.startswith("{") else re.escape(p) for p in parts if p
        )
        routes.append((re.compile(f"{regex}\\Z"), template))
    # Concrete paths before templated ones (OpenAPI's matching rule).
    routes.sort(key=lambda r: r[1].count("{"))
    return routes


def find_path(path: str) -> str | None:
    for regex, template in _routes():
        if regex.match(path):
            return template
    return None


@functools.cache
def validator(schema_pointer: str) -> Any:
    """A compiled validator for the schema at ``schema_pointer``, refs resolved."""
    from referencing import Registry
    from referencing.jsonschema import DRAFT4, DRAFT202012

    doc = spec()
    version = doc["openapi"]
    if version.startswith("3.1"):
        from jsonschema import Draft202012Validator as cls

        resource = DRAFT202012.create_resource(doc)
    elif version.startswith("3.0"):
        from openapi_schema_validator import OAS30Validator as cls

        resource = DRAFT4.create_resource(doc)
    else:
        raise ValueError(f"no JSON Schema dialect known for OpenAPI {version}")
    registry = Registry().with_resource(BASE, resource)
    return cls(
        {"$ref": f"{BASE}#{schema_pointer}"},
        registry=registry,
        format_checker=cls.FORMAT_CHECKER,
    )


def _response_for(responses_ptr: str, status: int) -> str | None:
    responses = resolve(responses_ptr)
    for key in (str(status), f"{status // 100}XX", "default"):
        if key in responses:
            return pointer(*_split(responses_ptr), key)
    return None


def _split(ptr: str) -> list[str]:
    return [t.replace("~1", "/").replace("~0", "~") for t in ptr.split("/")[1:]]


def check(
    method: str, path: str, status: int, content_type: str, body: bytes | None
) -> list[str]:
    """What in this response breaks the document; [] if nothing.

    ``body`` None means not known (a streaming response): only the status is
    checked then.
    """
    where = f"{method.upper()} {path} -> {status}"
    template = find_path(path)
    if template is None:
        unrouted = spec().get("x-unrouted")
        if unrouted and path.startswith(unrouted["prefix"]):
            responses_ptr = pointer("x-unrouted", "responses")
            if _response_for(responses_ptr, status) is None:
                return [f"{where}: path not in the document, so it must be a 404"]
            return _check_body(where, responses_ptr, status, content_type, body)
        return [f"{where}: path not in the document"] if path.startswith(SCOPE) else []
    item_ptr = pointer("paths", template)
    item = resolve(item_ptr)
    method = method.lower()
    if method in item:
        responses_ptr = pointer("paths", template, method, "responses")
    else:
        documented = [m for m in METHODS if m in item]
        if status != 405:
            return [
                f"{where}: {method.upper()} is not documented "
                f"({', '.join(m.upper() for m in documented)}), so it must be a 405"
            ]
        with_405 = [
            m
            for m in documented
            if "405" in resolve(pointer(*_split(item_ptr), m))["responses"]
        ]
        if not with_405:
            return [f"{where}: no operation of {template} documents 405"]
        responses_ptr = pointer("paths", template, with_405[0], "responses")

    if _response_for(responses_ptr, status) is None:
        return [f"{where}: status {status} not documented for {template}"]
    return _check_body(where, responses_ptr, status, content_type, body)


def _check_body(
    where: str, responses_ptr: str, status: int, content_type: str, body: bytes | None
) -> list[str]:
    response_ptr = _response_for(responses_ptr, status)
    assert response_ptr is not None
    response_ptr, response = _follow(response_ptr)
    if body is None:
        return []
    content = response.get("content") or {}
    if not content:
        return [f"{where}: a body where the document has none"] if body else []
    media_type = content_type.split(";")[0].strip().lower()
    if media_type not in content:
        return [f"{where}: Content-Type {content_type!r} not in {sorted(content)}"]
    if "schema" not in content[media_type]:
        return []
    if not (media_type == "application/json" or media_type.endswith("+json")):
        return []
    try:
        value = json.loads(body)
    except ValueError as exc:
        return [f"{where}: not JSON: {exc}"]
    schema_ptr = pointer(*_split(response_ptr), "content", media_type, "schema")
    errors = sorted(validator(schema_ptr).iter_errors(value), key=lambda e: e.path)
    return [
        f"{where}: {e.json_path}: {e.message} (schema {schema_ptr})" for e in errors
    ]


def record(problems: list[str]) -> None:
    with _lock:
        for problem in problems:
            if problem not in _violations and len(_violations) < MAX_RECORDED:
                _violations.append(problem)


def take() -> list[str]:
    """The violations recorded since the last call, and forget them."""
    with _lock:
        found = list(_violations)
        _violations.clear()
    return found


class ContractMiddleware:
    """Checks responses to Django's test Client (not the live servers)."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        response = self.get_response(request)
        if isinstance(request.META.get("wsgi.input"), FakePayload):
            body = None if response.streaming else response.content
            record(
                check(
                    request.method,
                    request.path_info,
                    response.status_code,
                    response.get("Content-Type", ""),
                    body,
                )
            )
        return response
