"""The handler of the machine endpoints: the RP API and the app API's requests that are
not long polls (``smartid.asgi`` routes them here).

Django's ASGI handler builds one middleware chain for every request. With sync middleware
and sync views under ASGI it alternates between the event loop and the request's thread
at every layer (``MiddlewareMixin.__acall__`` runs each ``process_request`` and
``process_response`` through ``sync_to_async``): about twenty hand-offs per request, each
a future, a context copy and two thread wake-ups, and a new thread per request.

Here the request enters one of a few long-lived threads once: the chain is built in sync
mode and runs, view included, in one ``sync_to_async`` call, as under WSGI
(docs/performance.md "The framework's share"). The same call sends Django's
``request_started`` and ``request_finished`` signals (``reset_queries``,
``close_old_connections``: they act on that thread's connections, the ones the view used);
Django's ``ASGIHandler.handle`` sends them through two more hand-offs to a thread made for
the request's ``ThreadSensitiveContext``, where they find no connection at all. A machine
request is short and its body is read before the view runs, so no task listens for the
client's disconnect meanwhile. It holds only what machine endpoints use:
the request id, metrics and access log; the security headers; the check of the Host
header; the 503 of an unavailable shared service. Sessions, CSRF (the API views are
exempt), the user, messages and the pages' language are for the web apps; API clients
authenticate on every request (the RP by its UUID and address or its request signature,
the app by its device signature).
"""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpResponseBase
from django.urls import set_script_prefix
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

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # No ThreadSensitiveContext: nothing runs thread-sensitive here (see handle).
        await self.handle(scope, receive, send)

    async def handle(self, scope: Any, receive: Any, send: Any) -> None:
        """Read the body, serve the request in one hand-off to the pool, send the answer."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:
            set_script_prefix(get_script_prefix(scope))
            response = await sync_to_async(
                self._serve, thread_sensitive=False, executor=self._threads
            )(scope, body_file)
            with contextlib.suppress(asyncio.CancelledError):  # the client went away
                await self.send_response(response, send)
            if response.streaming:  # not closed with the request: its iterator was needed
                await sync_to_async(
                    response.close, thread_sensitive=False, executor=self._threads
                )()
        finally:
            body_file.close()

    def _serve(self, scope: Any, body_file: IO[bytes]) -> HttpResponseBase:
        """Django's request cycle in this pool thread: started, the chain, finished."""
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            assert error_response is not None  # Django gives one or the other
            response: HttpResponseBase = error_response  # e.g. a body over the limit: 400
        else:
            response = self.get_response(request)
            response._handler_class = self.__class__  # type: ignore[attr-defined]
        if not response.streaming:
            # request_finished: close_old_connections on this thread, the view's
            # (DATABASE_CONN_MAX_AGE: the pool takes PostgreSQL's back; SQLite's stay open
            # for the thread's next request). The body is in memory: it is sent after.
            response.close()
        return response
