"""GET /v1/openapi.json and /v2/openapi.json: the RP API's OpenAPI documents (api/rp/schema.py).

Included from smartid/urls.py; one document per version, like the API's base URLs.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import re_path
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from api.rp import schema


@require_safe
@cache_control(public=True, max_age=3600)
def openapi_json(request: HttpRequest, version: str) -> JsonResponse:
    return JsonResponse(schema.openapi(int(version)))


urlpatterns = [
    re_path(r"^v(?P<version>[12])/openapi\.json$", openapi_json, name="rp-openapi"),
]
