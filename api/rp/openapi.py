"""GET /v1, /v2 and /v3/openapi.json: the RP API's OpenAPI documents.

v1 and v2: api/rp/schema.py; v3: api/rp/v3/schema.py.

Included from smartid/urls.py; one document per version, like the API's base URLs.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import re_path
from django.views.decorators.cache import cache_control
from django.views.decorators.csrf import csrf_exempt

from api.errors import error_body
from api.rp import schema
from api.rp.v3 import schema as v3_schema


@csrf_exempt  # read-only and stateless: a wrong method gets the API's JSON 405, not a CSRF 403
@cache_control(public=True, max_age=3600)
def openapi_json(request: HttpRequest, version: str) -> JsonResponse:
    if request.method not in ("GET", "HEAD"):
        response = JsonResponse(
            error_body(405, "Method not allowed", "method_not_allowed"), status=405
        )
        response["Allow"] = "GET, HEAD"
        return response
    number = int(version)
    return JsonResponse(v3_schema.openapi() if number == 3 else schema.openapi(number))


urlpatterns = [
    re_path(r"^v(?P<version>[123])/openapi\.json$", openapi_json, name="rp-openapi"),
]
