"""The virtual ID-card's endpoints (tests and demo only): what the browser shim asks instead
of a card reader, and the virtual CA's OCSP responder and certificate for outside tools.

Mounted at ``portal/virtual-card/`` by ``smartid/urls.py`` when the demo app is installed
(never in live); each view also answers 404 while ``PORTAL_VIRTUAL_CARD`` is off.
"""

from __future__ import annotations

import json

from cryptography.hazmat.primitives.serialization import Encoding
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET, require_POST

from demo import virtualcard


def _virtual_card_enabled() -> None:
    if not settings.PORTAL_VIRTUAL_CARD:
        raise Http404


def _json_error(code: str, message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"code": code, "message": message}, status=status)


@require_POST
def virtual_card_token(request: HttpRequest) -> JsonResponse:
    """What the browser shim asks instead of a card reader: a token for a demo card."""
    _virtual_card_enabled()
    try:
        body = json.loads(request.body[:4096])
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        return _json_error("bad_request", "A JSON object is required.")
    nonce, origin, code = body.get("challengeNonce"), body.get("origin"), body.get("card")
    if not all(isinstance(v, str) and 0 < len(v) <= 200 for v in (nonce, origin, code)):
        return _json_error("bad_request", "challengeNonce, origin and card are required.")
    assert isinstance(code, str) and isinstance(origin, str) and isinstance(nonce, str)
    if not code.isdigit() or len(code) != 11:
        return _json_error("bad_request", "card must be an 11-digit personal code.")
    return JsonResponse(virtualcard.card_for(code).token_for(origin, nonce))


@require_POST
def virtual_card_ocsp(request: HttpRequest) -> HttpResponse:
    """The virtual CA's OCSP responder over HTTP (for outside tools; the portal asks in-process)."""
    _virtual_card_enabled()
    body = request.body[:4096]
    response = virtualcard.authority().ocsp_respond(body, revoked=virtualcard.revoked_serials())
    return HttpResponse(response, content_type="application/ocsp-response")


@require_GET
def virtual_card_ca(request: HttpRequest) -> HttpResponse:
    _virtual_card_enabled()
    der = virtualcard.authority().certificate.public_bytes(Encoding.DER)
    return HttpResponse(der, content_type="application/pkix-cert")
