"""Project-level views: the landing page and the JSON error handlers (health: smartid.health)."""

from __future__ import annotations

import logging

from django.apps import apps
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views import defaults
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

# Paths whose clients are programs: their errors are JSON, never an HTML page.
API_PREFIXES = (
    "/v1/",
    "/v2/",
    "/v3/",
    "/app/",
    "/health",
    "/metrics",
    "/ocsp",
    "/crl/",
    "/ca/",
)


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """``/``: where a visitor (and the admin's "View site") finds the service's faces."""
    return render(
        request,
        "home.html",
        {
            # Outside live the demo app stands in for the outside world: its pages are
            # listed too (the template reverses their URLs; nothing here imports it).
            "demo": apps.is_installed("demo"),
            "mobile_id_simulator": apps.is_installed("demo") and settings.MOBILE_ID_SIMULATOR,
            "virtual_card": apps.is_installed("demo") and settings.PORTAL_VIRTUAL_CARD,
        },
    )


@require_safe
def device_link(request: HttpRequest) -> HttpResponse:
    """``/device-link``: the default ``deviceLinkBase`` of RP API v3
    (``RP_V3_DEVICE_LINK_BASE``). The app reads these links itself; a browser or a phone
    camera without the app lands here and is told what to do. The query is not read."""
    return render(request, "device_link.html")


def json_error(status: int, message: str) -> JsonResponse:
    """The error body of every API: ``{"code": <status>, "message": ...}``.

    It is the shape the Smart-ID demo service answers with (rp-api.md §1.4).
    """
    return JsonResponse({"code": status, "message": message}, status=status)


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIXES) or "application/json" in request.headers.get(
        "Accept", ""
    )


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return json_error(400, "Bad request")
    return defaults.bad_request(request, exception or Exception())


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return json_error(403, "Forbidden")
    return defaults.permission_denied(request, exception or Exception())


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return json_error(404, "Not found")
    return defaults.page_not_found(request, exception or Exception())


#: What a client reads when PostgreSQL or Redis did not answer (smartid.middleware).
UNAVAILABLE_MESSAGE = "Service temporarily unavailable, try again in a moment"
#: Seconds a client should wait before it tries again (Retry-After).
RETRY_AFTER_SECONDS = 1


def service_unavailable(request: HttpRequest) -> HttpResponse:
    """503 in each API's own error format (RP API v3: problem details), or a plain page."""
    response: HttpResponse
    if request.path.startswith("/v3/"):
        body = {
            "type": "about:blank",
            "title": "Service Unavailable",
            "status": 503,
            "detail": UNAVAILABLE_MESSAGE,
        }
        response = JsonResponse(body, status=503)
    elif request.path.startswith(("/v1/", "/v2/", "/app/")):
        body = {"code": 503, "message": UNAVAILABLE_MESSAGE, "error": "unavailable"}
        response = JsonResponse(body, status=503)
    elif _wants_json(request):
        response = json_error(503, UNAVAILABLE_MESSAGE)
    else:
        response = HttpResponse(
            UNAVAILABLE_MESSAGE + ".", status=503, content_type="text/plain; charset=utf-8"
        )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    if _wants_json(request):
        return json_error(500, "Internal server error")
    return defaults.server_error(request)
