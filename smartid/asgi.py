"""ASGI entry point: ``uvicorn smartid.asgi:application``.

Long polls (RP session status, the app's pending transactions) go to a lean handler:
Django's ``ASGIHandler.__call__`` gives every request its own thread-sensitive context,
which pins one idle OS thread to each open poll (5,000 polls: 5,000 threads). The lean
handler skips that context and the middleware (those two views are JSON endpoints for
programs, CSRF-exempt, and check their own authentication), so an open poll costs an
``asyncio.Event`` and a socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartid.settings")

from django.conf import settings  # noqa: E402 -- after DJANGO_SETTINGS_MODULE
from django.core.exceptions import RequestAborted  # noqa: E402
from django.core.handlers.asgi import ASGIHandler, get_script_prefix  # noqa: E402
from django.core.handlers.exception import convert_exception_to_response  # noqa: E402
from django.urls import set_script_prefix  # noqa: E402

django_application = get_asgi_application()

from smartid.admission import admitted  # noqa: E402 -- needs the settings
from smartid.checks import refuse_unsafe_start  # noqa: E402 -- needs the apps loaded
from smartid.machine import MachineHandler  # noqa: E402 -- needs the settings
from smartid.middleware import ServiceUnavailableMiddleware  # noqa: E402

refuse_unsafe_start()

LONG_POLL_PATHS = re.compile(r"^/(v[123]/session/|app/v1/transactions/pending$)")
#: The machine endpoints with sync views (smartid/machine.py); the app's certificate long
#: polls are async views and stay with Django's handler.
MACHINE_PATHS = re.compile(r"^/(v[123]|app/v1)/(?!(registrations|renewals)/[^/]+/certificates$)")

# Django's stubs and the ASGI spec disagree on these types; they are plain ASGI here.
Scope = Any
Receive = Any
Send = Any


class LongPollHandler(ASGIHandler):
    """Django without middleware and without a per-request thread context."""

    def load_middleware(self, is_async: bool = False) -> None:
        # BaseHandler.load_middleware with an empty MIDDLEWARE list (private names: the
        # stubs do not know them).
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        # The one exception hook they need: PostgreSQL or Redis down -> 503, not 500.
        self._exception_middleware: list[Any] = [
            ServiceUnavailableMiddleware(lambda request: None).process_exception  # type: ignore[arg-type]
        ]
        get_response = getattr(self, "_get_response_async" if is_async else "_get_response")
        self._middleware_chain = convert_exception_to_response(get_response)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``ASGIHandler.handle`` without the ``request_started``/``request_finished``
        signals: their receivers close the connections of the thread they run in, a
        hand-off each (in the one shared thread-sensitive thread, since these requests have
        no context of their own), while the views read through ``db_to_async``, which gives
        each connection back itself. The poll still ends when the client goes away."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:
            set_script_prefix(get_script_prefix(scope))
            request, response = self.create_request(scope, body_file)
            if request is not None:
                response = await self._until_disconnect(request, receive)
            if response is None:  # the client went away
                return
            with contextlib.suppress(asyncio.CancelledError):
                await self.send_response(response, send)
        finally:
            body_file.close()

    async def _until_disconnect(self, request: Any, receive: Receive) -> Any:
        """The view's response, or None when the client disconnected first."""
        view = asyncio.create_task(self.run_get_response(request))
        gone = asyncio.create_task(self.listen_for_disconnect(receive))
        await asyncio.wait((view, gone), return_when=asyncio.FIRST_COMPLETED)
        if view.done():
            gone.cancel()
            with contextlib.suppress(asyncio.CancelledError, RequestAborted):
                await gone
            return view.result()
        view.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await view
        with contextlib.suppress(RequestAborted):
            gone.result()
        return None


_long_polls = LongPollHandler()
# Everything but the long polls: at most MAX_CONCURRENT_REQUESTS inside Django at once,
# the rest shed with 503 (smartid/admission.py).
_admitted = admitted(django_application)
_machine = admitted(MachineHandler(), admission=_admitted)


async def _route(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http":
        path = scope.get("path", "")
        if LONG_POLL_PATHS.match(path):
            await _long_polls(scope, receive, send)
            return
        if MACHINE_PATHS.match(path):
            await _machine(scope, receive, send)
            return
    await _admitted(scope, receive, send)


application: Any = _route

if not settings.IS_LIVE:
    # The embedded mode has no reverse proxy: serve /static/ from the apps' folders.
    # Django's own handler, so the rest of the stack stays fully async.
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    # It only calls the wrapped application for non-static paths: any ASGI app will do.
    application = ASGIStaticFilesHandler(_route)  # type: ignore[arg-type]
