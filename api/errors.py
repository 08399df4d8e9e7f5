"""One error format for every API: ``{"code": <status>, "message": ..., "error": ...}``."""

from __future__ import annotations

from typing import Any, TypeVar

from django.http import HttpResponseBase, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import DomainError

R = TypeVar("R", bound=HttpResponseBase)

# Domain error codes whose HTTP status is not 400.
STATUS_BY_CODE = {
    "not_found": 404,
    "transaction_finished": 409,
    "wrong_state": 409,
    "account_expired": 409,
    "unauthenticated": 401,
    "too_many_requests": 429,
}


def error_body(status: int, message: str, error: str) -> dict[str, Any]:
    return {"code": status, "message": message, "error": error}


def retry_after(response: R, exc: Exception) -> R:
    """``Retry-After`` on a refusal that says when to come back (a rate limit's 429)."""
    seconds = getattr(exc, "retry_after", None)
    if isinstance(seconds, int):
        response["Retry-After"] = str(seconds)
    return response


def domain_error_response(exc: DomainError) -> JsonResponse:
    status = STATUS_BY_CODE.get(exc.code, 400)
    return retry_after(JsonResponse(error_body(status, exc.message, exc.code), status=status), exc)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus domain errors, all in the one error format."""
    if isinstance(exc, DomainError):
        status = getattr(exc, "status", None) or STATUS_BY_CODE.get(exc.code, 400)
        return retry_after(Response(error_body(status, exc.message, exc.code), status=status), exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        message = "Invalid request: " + _flatten(detail)
        response.data = error_body(response.status_code, message, "invalid_request")
    elif isinstance(exc, exceptions.APIException):
        code = exc.get_codes()
        response.data = error_body(
            response.status_code, str(exc.detail), code if isinstance(code, str) else "error"
        )
    return response


def _flatten(detail: Any, prefix: str = "") -> str:
    if isinstance(detail, dict):
        return "; ".join(_flatten(v, f"{prefix}{k}.") for k, v in detail.items())
    if isinstance(detail, list):
        return "; ".join(_flatten(v, prefix) for v in detail)
    return f"{prefix.rstrip('.')}: {detail}" if prefix else str(detail)
