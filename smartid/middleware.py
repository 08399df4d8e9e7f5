"""Middleware of the project: request ids, metrics and the access log; response headers
every page of the web apps carries; the pages' language; the 503 of an unavailable shared
service."""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.middleware.locale import LocaleMiddleware
from django.utils import translation
from django.utils.deprecation import MiddlewareMixin

from core import logs, metrics
from core.errors import is_unavailable
from smartid.views import API_PREFIXES, service_unavailable

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
access_log = logging.getLogger("smartid.request")


class ObservabilityMiddleware:
    """First in the chain: the request id, the latency histogram and the access log line.

    The id is the client's ``X-Request-ID`` when it is sane (8–64 characters of
    ``A-Za-z0-9._:-``; a reverse proxy or an RP may send one) or a fresh one; it is bound
    for the whole request (every log line carries it, every task the request enqueues
    takes it along) and answered in ``X-Request-ID``. The histogram's ``route`` label is
    the URL pattern (``v2/session/<uuid:session_id>``), never the path, so ids in paths
    make no new series; a path no pattern matched is ``unmatched``. The long polls
    (``smartid.asgi``) bypass the middleware: their duration is the poll's wait.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self._acall(request)
        token, started = self._begin(request)
        try:
            response = self.get_response(request)
        finally:
            logs.reset_request_id(token)
        return self._end(request, response, started)

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        token, started = self._begin(request)
        try:
            get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = self.get_response
            response = await get_response(request)
        finally:
            logs.reset_request_id(token)
        return self._end(request, response, started)

    @staticmethod
    def _begin(request: HttpRequest) -> tuple[contextvars.Token[str], float]:
        request_id = logs.sane_request_id(request.META.get("HTTP_X_REQUEST_ID"))
        request_id = request_id or logs.new_request_id()
        request.request_id = request_id  # type: ignore[attr-defined]
        return logs.bind_request_id(request_id), time.perf_counter()

    @staticmethod
    def _end(request: HttpRequest, response: HttpResponseBase, started: float) -> HttpResponseBase:
        elapsed = time.perf_counter() - started
        match = request.resolver_match
        route = (match.route or match.view_name) if match is not None else "unmatched"
        status = response.status_code
        metrics.HTTP_REQUEST_SECONDS.labels(
            method=request.method if request.method in _METHODS else "other",
            route=route,
            status=str(status),
        ).observe(elapsed)
        request_id: str = request.request_id  # type: ignore[attr-defined]
        response[REQUEST_ID_HEADER] = request_id
        if access_log.isEnabledFor(logging.INFO):
            access_log.info(
                "%s %s %s %.1f ms",
                request.method,
                route,
                status,
                elapsed * 1000,
                extra={
                    "request_id": request_id,
                    "method": request.method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 1),
                },
            )
        return response


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


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
