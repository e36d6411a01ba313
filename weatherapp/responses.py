"""JSON answers shared by the API (web/api.py) and the ops endpoints
(ops/views.py): every failure is a JSON error naming the problem."""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

View = Callable[..., HttpResponse]


def error(status: int, message: str, field: str | None = None) -> JsonResponse:
    body = {"error": message}
    if field:
        body["field"] = field
    return JsonResponse(body, status=status)


def only(*methods: str) -> Callable[[View], View]:
    """Answer other methods with a JSON 405 naming the allowed ones."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapper(
            request: HttpRequest, *args: object, **kwargs: object
        ) -> HttpResponse:
            if request.method not in methods:
                response = error(405, f"use {' or '.join(methods)}", "method")
                response["Allow"] = ", ".join(methods)
                return response
            return view(request, *args, **kwargs)

        return wrapper

    return decorate
