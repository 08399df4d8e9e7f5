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
    """``sync_to_async`` that runs in the thread pool on PostgreSQL, so a thousand woken
    long polls read in parallel instead of queueing on Django's one thread-sensitive
    executor — but stays on that one thread with SQLite (the embedded mode), whose
    shared-cache connections refuse concurrent use ("database table is locked").
    """

    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        finally:
            # A pool thread outlives the request: give its connection back per
            # DATABASE_CONN_MAX_AGE, as Django does at the end of a request.
            close_old_connections()

    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        sqlite = settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
        if sqlite:
            return await sync_to_async(function)(*args, **kwargs)
        return await sync_to_async(call, thread_sensitive=False)(*args, **kwargs)

    return run
