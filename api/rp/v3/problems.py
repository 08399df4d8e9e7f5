"""RP API v3 errors: RFC 9457 problem details, sent as ``application/json``.

Every refusal is ``{type: "about:blank", title, status, detail, errors: [{code?, detail,
paramName?, pointer?}]}``, with the status SK's v3 document declares for the operation:
400 bad request, 401 unknown relying party, 403 not permitted, 404 no such person,
document or session (since 3.2 also what v2 answered with 471/472, told apart by
``errors[0].code``), 580 maintenance.

The one deliberate extension member: an unsupported ``signatureAlgorithm`` also carries
the top-level ``pointer`` the SK demo answers with (docs/spec/rp-api.md §5), so a client
written against the demo's body finds ``detail`` and ``pointer`` where it expects them.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from django.http import HttpResponse
from rest_framework import exceptions
from rest_framework.response import Response

from api.errors import retry_after
from api.rp import services

# The content type SK's v3 document declares for its problem bodies (RFC 9457 would say
# application/problem+json; clients of SK's service expect what SK sends).
CONTENT_TYPE = "application/json"
ALGORITHM_DETAIL = "Invalid signature algorithm parameter"
ALGORITHM_POINTER = "/signatureProtocolParameters/signatureAlgorithm"
#: ``errors[0].code`` of the refusals v2 answered with 471 and 472.
NO_SUITABLE_ACCOUNT = "NO_SUITABLE_ACCOUNT_FOUND"
PERSON_SHOULD_VIEW_APP = "PERSON_SHOULD_VIEW_SMART_ID_PORTAL"
TITLES = {580: "System Under Maintenance"}


class Problem(Exception):
    """A refusal with its HTTP status and RFC 9457 ``errors``."""

    def __init__(
        self,
        status: int,
        detail: str,
        errors: list[dict[str, str]] | None = None,
        **extra: str,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors or []
        self.extra = extra

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": "about:blank",
            "title": _title(self.status),
            "status": self.status,
            "detail": self.detail,
            **self.extra,
        }
        if self.errors:
            body["errors"] = self.errors
        return body


def _title(status: int) -> str:
    if status in TITLES:
        return TITLES[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def field_error(path: list[str], detail: str) -> dict[str, str]:
    """One ``errors`` item for the field at ``path`` (JSON Pointer, RFC 6901)."""
    pointer = "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in path)
    return {"detail": detail, "paramName": path[-1], "pointer": pointer}


def invalid(path: list[str], detail: str) -> Problem:
    return Problem(400, "Invalid request parameters found", [field_error(path, detail)])


def invalid_algorithm() -> Problem:
    return Problem(
        400,
        ALGORITHM_DETAIL,
        [field_error(["signatureProtocolParameters", "signatureAlgorithm"], ALGORITHM_DETAIL)],
        pointer=ALGORITHM_POINTER,
    )


def _flatten(detail: Any, path: list[str]) -> list[dict[str, str]]:
    """DRF's nested validation errors as ``errors`` items, one per field."""
    if isinstance(detail, dict):
        return [e for key, value in detail.items() for e in _flatten(value, [*path, str(key)])]
    if isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            text = " ".join(str(item) for item in detail)
            if not path or path[-1] == "non_field_errors":
                return [{"detail": text}]
            return [field_error(path, text)]
        return [e for i, item in enumerate(detail) for e in _flatten(item, [*path, str(i)])]
    return [field_error(path, str(detail))] if path else [{"detail": str(detail)}]


def from_exception(exc: Exception) -> Problem | None:
    """The problem for an exception a v3 view raised (None: not ours, let it be a 500)."""
    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, exceptions.ValidationError):
        return Problem(400, "Invalid request parameters found", _flatten(exc.detail, []))
    if isinstance(exc, services.NoSuitableAccount):
        return Problem(404, "Not Found", [{"code": NO_SUITABLE_ACCOUNT, "detail": exc.message}])
    if isinstance(exc, services.ViewApp):
        return Problem(404, "Not Found", [{"code": PERSON_SHOULD_VIEW_APP, "detail": exc.message}])
    if isinstance(exc, services.RpError):
        return Problem(exc.status, exc.message)
    if isinstance(exc, exceptions.APIException):
        return Problem(exc.status_code, str(exc.detail))
    return None


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF exception handler of the v3 views."""
    problem = from_exception(exc)
    if problem is None:
        return None
    response = retry_after(
        Response(problem.body(), status=problem.status, content_type=CONTENT_TYPE), exc
    )
    if isinstance(exc, exceptions.MethodNotAllowed):
        view = context.get("view")
        if view is not None:
            response["Allow"] = ", ".join(view.allowed_methods)
    return response


def problem_response(problem: Problem) -> HttpResponse:
    """The problem as a plain Django response (the async status view)."""
    return HttpResponse(
        json.dumps(problem.body()), status=problem.status, content_type=CONTENT_TYPE
    )
