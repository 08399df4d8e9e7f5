"""Public PKI endpoints: OCSP, CRLs, CA certificates (AIA) and the PDS."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_safe

from core.asyncdb import db_to_async
from pki import ocsp
from pki.crl import crl_current
from pki.models import CertificateAuthority
from signing.engine import InvalidBase64, b64decode_strict

OCSP_RESPONSE = "application/ocsp-response"


def _ocsp_http(response_der: bytes) -> HttpResponse:
    response = HttpResponse(response_der, content_type=OCSP_RESPONSE)
    # Status changes must be visible at once (the rule), so no HTTP caching;
    # the responder caches signed answers itself.
    response["Cache-Control"] = "no-cache"
    return response


# The OCSP views are async: a responder answers mostly from its cache, and a sync view
# under ASGI would queue every request behind one thread. The work runs in the
# thread pool (not thread-sensitive): it shares no connection state between requests.
_respond_in_thread = db_to_async(ocsp.respond)


async def _respond(request_der: bytes) -> bytes:
    """The cached answer straight from the event loop; anything else in a thread."""
    return ocsp.cached_response(request_der) or await _respond_in_thread(request_der)


@csrf_exempt  # a protocol endpoint for programs, no cookies or session
@require_http_methods(["POST"])
async def ocsp_post(request: HttpRequest) -> HttpResponse:
    try:
        length = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        length = 0
    if not 0 < length <= ocsp.MAX_REQUEST_BYTES:
        return _ocsp_http(await _respond(b""))  # malformedRequest, without reading the body
    return _ocsp_http(await _respond(request.body))


@csrf_exempt  # protocol endpoint: no session; a wrong method is 405
@require_GET
async def ocsp_get(request: HttpRequest, encoded: str) -> HttpResponse:
    """RFC 6960 A.1: GET {url}/{url-encoding of base-64 encoding of the DER request}."""
    if len(encoded) > ocsp.MAX_REQUEST_BYTES * 2:
        return _ocsp_http(await _respond(b""))
    # Clients differ: the URL-safe alphabet and missing padding are accepted (both
    # spell one value), then the text must be the canonical Base64 of the request.
    text = encoded.strip().replace("-", "+").replace("_", "/")
    try:
        der = b64decode_strict(text + "=" * (-len(text) % 4), what="OCSP request")
    except InvalidBase64:
        der = b""
    return _ocsp_http(await _respond(der))


def _ca(slug: str) -> CertificateAuthority:
    return get_object_or_404(CertificateAuthority, slug=slug)


@csrf_exempt  # protocol endpoint: no session; a wrong method is 405
@require_safe
def crl(request: HttpRequest, slug: str) -> HttpResponse:
    published = crl_current(_ca(slug))
    response = HttpResponse(bytes(published.der), content_type="application/pkix-crl")
    response["Last-Modified"] = published.this_update.strftime("%a, %d %b %Y %H:%M:%S GMT")
    return response


@csrf_exempt  # protocol endpoint: no session; a wrong method is 405
@require_safe
def ca_certificate(request: HttpRequest, slug: str) -> HttpResponse:
    ca = _ca(slug)
    if not ca.certificate_der:
        raise Http404
    return HttpResponse(bytes(ca.certificate_der), content_type="application/pkix-cert")


@csrf_exempt  # protocol endpoint: no session; a wrong method is 405
@require_safe
def pds(request: HttpRequest, language: str) -> HttpResponse:
    """The PKI disclosure statement that QcPDS points to (EN 319 411-1 §6.9.4)."""
    if language != "en":
        raise Http404
    text = (
        "PKI disclosure statement\n\n"
        "Certificates of this service are issued to natural persons for authentication and\n"
        "electronic signatures made with split-key RSA on a registered device.\n"
        "Certificate status: OCSP and CRL at the addresses in each certificate.\n"
    )
    return HttpResponse(text, content_type="text/plain; charset=utf-8")
