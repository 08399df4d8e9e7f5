"""Response headers every page of the web apps carries, and the 503 of an unavailable
shared service."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.middleware.locale import LocaleMiddleware
from django.utils import translation
from django.utils.deprecation import MiddlewareMixin

from core.errors import is_unavailable
from smartid.views import API_PREFIXES, service_unavailable

logger = logging.getLogger(__name__)


class ContentSecurityPolicyMiddleware:
    """Adds ``Content-Security-Policy`` (``settings.CONTENT_SECURITY_POLICY``) to responses.

    Django 5.2 has no CSP support of its own. The policy allows scripts, styles and
    images from our own origin only (plus ``data:`` images for QR codes), so no inline
    script runs: the pages load their JavaScript as static files.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = "; ".join(
            f"{directive} {value}" for directive, value in settings.CONTENT_SECURITY_POLICY.items()
        )

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.policy)
        return response


class PageLocaleMiddleware(LocaleMiddleware):
    """Django's LocaleMiddleware for the pages only.

    Machine endpoints (RP and app API, OCSP, CRL, CA certificates, health) answer the
    same bytes in every language: negotiating a language there would only cost time on
    the hottest paths and add ``Vary: Accept-Language``, which splits the HTTP caches of
    OCSP GET answers (RFC 5019) for nothing.
    """

    def process_request(self, request: HttpRequest) -> None:
        if request.path.startswith(_machine_prefixes()):
            translation.activate(settings.LANGUAGE_CODE)  # nothing left from a page request
        else:
            super().process_request(request)

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if request.path.startswith(_machine_prefixes()):
            return response
        return super().process_response(request, response)


def _machine_prefixes() -> tuple[str, ...]:
    return API_PREFIXES


class ServiceUnavailableMiddleware(MiddlewareMixin):
    """PostgreSQL or Redis did not answer: 503 with ``Retry-After``, not a 500.

    The Redis clients give up after ``SMARTID_REDIS_TIMEOUT`` (settings), the database
    pool after its own timeout, so a frozen or restarting service costs a request a quick
    503 that its client may retry, never a hang (docs/deployment.md "Multi-node test").
    The long-poll handler (smartid/asgi.py) has no middleware but calls this one's
    ``process_exception`` too.
    """

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_unavailable(exception):
            return None
        logger.warning(
            "service unavailable: %s %s: %s: %s",
            request.method,
            request.path,
            type(exception).__name__,
            exception,
        )
        return service_unavailable(request)
