"""The handler of the machine endpoints: the RP API and the app API's requests that are
not long polls (``smartid.asgi`` routes them here).

Django's ASGI handler builds one middleware chain for every request. With sync middleware
and sync views under ASGI it alternates between the event loop and the request's thread
at every layer (``MiddlewareMixin.__acall__`` runs each ``process_request`` and
``process_response`` through ``sync_to_async``): about twenty hand-offs per request, each
a future, a context copy and two thread wake-ups, and a new thread per request.

Here the request enters one of a few long-lived threads once: the chain is built in sync
mode and runs, view included, in one ``sync_to_async`` call, as under WSGI
(docs/performance.md "The framework's share"). It holds only what machine endpoints use:
the request id, metrics and access log; the security headers; the check of the Host
header; the 503 of an unavailable shared service. Sessions, CSRF (the API views are
exempt), the user, messages and the pages' language are for the web apps; API clients
authenticate on every request (the RP by its UUID and address or its request signature,
the app by its device signature).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.exception import convert_exception_to_response
from django.db import close_old_connections
from django.http import HttpRequest, HttpResponseBase
from django.utils.module_loading import import_string

#: In the order of ``settings.MIDDLEWARE`` (outermost first); all of them can run sync.
MACHINE_MIDDLEWARE = (
    "smartid.middleware.ObservabilityMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "smartid.middleware.ContentSecurityPolicyMiddleware",
    # The Host header against ALLOWED_HOSTS (request.get_host()), APPEND_SLASH.
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "smartid.middleware.ServiceUnavailableMiddleware",
)


class MachineHandler(ASGIHandler):
    """Django with a sync middleware chain that runs in one hop to the request's thread."""

    def load_middleware(self, is_async: bool = False) -> None:
        # BaseHandler.load_middleware for a fixed list, sync only (the private names are
        # Django's: the stubs do not know them).
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        handler = convert_exception_to_response(self._get_response)  # type: ignore[attr-defined]
        for path in reversed(MACHINE_MIDDLEWARE):
            middleware = import_string(path)(handler)
            if hasattr(middleware, "process_view"):
                self._view_middleware.insert(0, middleware.process_view)
            if hasattr(middleware, "process_template_response"):
                self._template_response_middleware.append(middleware.process_template_response)
            if hasattr(middleware, "process_exception"):
                self._exception_middleware.append(middleware.process_exception)
            handler = convert_exception_to_response(middleware)
        self._middleware_chain = handler

    def __init__(self) -> None:
        super().__init__()
        # As many threads as requests admitted into Django at once (smartid/admission.py).
        self._threads = ThreadPoolExecutor(
            max_workers=max(settings.MAX_CONCURRENT_REQUESTS, 4), thread_name_prefix="machine"
        )

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        response: HttpResponseBase = await sync_to_async(
            self._respond, thread_sensitive=False, executor=self._threads
        )(request)
        return response

    def _respond(self, request: HttpRequest) -> HttpResponseBase:
        try:
            return self.get_response(request)
        finally:
            # Django's end-of-request clean-up runs on another thread and never sees this
            # thread's connections: close them here, per DATABASE_CONN_MAX_AGE (the pool
            # takes PostgreSQL's back; SQLite's stay open for the thread's next request).
            close_old_connections()
