"""Running database work from async views."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections

P = ParamSpec("P")
R = TypeVar("R")


def db_to_async(function: Callable[P, R]) -> Callable[P, Coroutine[Any, Any, R]]:
    """``sync_to_async`` that runs in the thread pool on PostgreSQL and gives the
    connection back after each call, so a thousand woken long polls read in parallel and
    an open poll holds no connection. With SQLite (the embedded mode) it stays
    thread-sensitive, i.e. in the request's own thread (SQLite connections must not
    cross threads), so there each open poll keeps a thread; production is PostgreSQL.
    """

    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        finally:
            # The thread outlives the request: give its connection back per
            # DATABASE_CONN_MAX_AGE (or if it broke), as Django does at the end of a
            # request (the long polls' handler sends no request signals: smartid/asgi.py).
            close_old_connections()

    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        sqlite = settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
        if sqlite:
            return await sync_to_async(call)(*args, **kwargs)
        return await sync_to_async(call, thread_sensitive=False)(*args, **kwargs)

    return run
