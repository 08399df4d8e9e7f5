"""Admission control: under overload a web process answers 503 at once instead of queueing.

Django runs sync views on one thread per process (ASGI's thread-sensitive executor), so
requests beyond what that thread keeps up with wait in line, and under a burst every
answer comes late, until clients time out and retry into an even longer line. Here at
most ``MAX_CONCURRENT_REQUESTS`` requests of a process are inside Django at once; a request
that finds no place within ``ADMISSION_WAIT_MS`` gets ``503`` with ``Retry-After: 1``
without touching the database, so the process keeps answering the requests it did admit
at normal speed and sheds the rest within a second.

New work gives way to work in progress: an RP's session start may only take the first
``START_SHARE`` of the places, so the app's confirmations, polls and the pages of people
already logged in still get in when starts are shed (a started flow is finished rather
than a new one begun). Long polls bypass this (smartid/asgi.py): they wait on the event
bus, not on the thread.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings

from smartid.views import API_PREFIXES

Scope = Any
Receive = Any
Send = Any
App = Callable[[Scope, Receive, Send], Awaitable[None]]

#: An RP API session start (v1/v2/v3, every kind): new work, shed first.
SESSION_STARTS = re.compile(
    r"^/v[123]/(authentication|signature|certificatechoice)/[^?]*$", re.IGNORECASE
)
#: What a shed start may use at most; the rest is kept for work in progress.
START_SHARE = 0.75


class Admission:
    """Counts the requests of this process inside Django; admits up to a cap per class."""

    def __init__(self, limit: int, wait_seconds: float) -> None:
        self.limit = limit
        self.wait_seconds = wait_seconds
        self.active = 0
        self._condition: asyncio.Condition | None = None

    def _cond(self) -> asyncio.Condition:
        if self._condition is None:  # created on the server's event loop, at first use
            self._condition = asyncio.Condition()
        return self._condition

    async def enter(self, *, start: bool) -> bool:
        """A place for one request, waiting at most ``wait_seconds``; False: shed it."""
        cap = max(1, int(self.limit * START_SHARE)) if start else self.limit
        condition = self._cond()
        async with condition:
            if self.active >= cap:
                try:
                    await asyncio.wait_for(
                        condition.wait_for(lambda: self.active < cap), self.wait_seconds
                    )
                except TimeoutError:
                    return False
            self.active += 1
            return True

    async def leave(self) -> None:
        condition = self._cond()
        async with condition:
            self.active -= 1
            condition.notify_all()


def admitted(app: App, admission: Any = None) -> App:
    """``app`` behind this process's admission control (off when the cap is 0).

    ``admission``: another application returned by this function, whose places ``app``
    shares (one count per process, whichever handler serves the request).
    """
    if settings.MAX_CONCURRENT_REQUESTS <= 0:
        return app
    if admission is not None:
        admission = admission.admission
    else:
        admission = Admission(settings.MAX_CONCURRENT_REQUESTS, settings.ADMISSION_WAIT_MS / 1000)

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        path = scope.get("path", "")
        start = scope.get("method") == "POST" and bool(SESSION_STARTS.match(path))
        if not await admission.enter(start=start):
            await _shed(path, send)
            return
        try:
            await app(scope, receive, send)
        finally:
            await admission.leave()

    guarded.admission = admission  # type: ignore[attr-defined]  # for tests and metrics
    return guarded


async def _shed(path: str, send: Send) -> None:
    """503 with ``Retry-After: 1``, in the format the path's clients read."""
    message = "The service is busy; nothing was done. Try again in a second."
    if path.startswith("/v3/"):
        body: dict[str, Any] = {
            "type": "about:blank",
            "title": "Service Unavailable",
            "status": 503,
            "detail": message,
        }
    elif path.startswith(API_PREFIXES):
        body = {"code": 503, "message": message, "error": "overloaded"}
    else:
        body = {"message": message}  # pages: browsers show it; scripts can read it
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"retry-after", b"1"),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
