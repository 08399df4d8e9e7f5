"""One error format for every API: ``{"code": <status>, "message": ..., "error": ...}``."""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import DomainError

# Domain error codes whose HTTP status is not 400.
STATUS_BY_CODE = {
    "not_found": 404,
    "transaction_finished": 409,
    "wrong_state": 409,
    "unauthenticated": 401,
    "too_many_requests": 429,
}


def error_body(status: int, message: str, error: str) -> dict[str, Any]:
    return {"code": status, "message": message, "error": error}


def domain_error_response(exc: DomainError) -> JsonResponse:
    status = STATUS_BY_CODE.get(exc.code, 400)
    response = JsonResponse(error_body(status, exc.message, exc.code), status=status)
    if exc.retry_after is not None:
        response["Retry-After"] = str(exc.retry_after)
    return response


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus domain errors, all in the one error format."""
    if isinstance(exc, DomainError):
        status = getattr(exc, "status", None) or STATUS_BY_CODE.get(exc.code, 400)
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
        return Response(error_body(status, exc.message, exc.code), status=status, headers=headers)
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
