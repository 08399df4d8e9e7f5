"""Response headers every page of the web apps carries."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.middleware.locale import LocaleMiddleware
from django.utils import translation

from smartid.views import API_PREFIXES


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
