"""Rate limits shared by every node: a fixed-window counter per scope and key in the cache.

With ``REDIS_URL`` the cache is Redis, so ``add`` (SET NX with the window's expiry) and
``incr`` (INCR) are atomic across processes and nodes: two web nodes never hand out the
same slot twice. In the embedded mode the cache is per process, which is all one process
needs.

Keys are hashed (an address or a user name never appears in Redis, and a key has a fixed
length whatever the caller passes). A window is aligned to the clock (``now // seconds``),
so ``Retry-After`` is the time to the window's end, the same on every node.

If the cache cannot be reached the request is let through (fail open) and the failure is
logged: a limit exists to protect the service, and the paths it guards fail on their own,
with a clear 503, when the shared state is down (docs/deployment.md).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

from core.errors import DomainError
from core.net import client_address

logger = logging.getLogger(__name__)


class RateLimited(DomainError):
    """Over a limit: answer 429 with ``Retry-After: retry_after`` and change nothing."""

    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limit:
    """At most ``count`` hits per ``seconds`` for one key of ``scope``."""

    scope: str
    count: int
    seconds: int

    def __post_init__(self) -> None:
        if not self.scope.isidentifier() or self.count < 1 or self.seconds < 1:
            raise ValueError(f"invalid limit {self!r}")


def hit(limit: Limit, key: str, *, message: str = "Too many requests; try again later.") -> None:
    """Count one hit of ``key``; raise :class:`RateLimited` if the window is full.

    A refused hit still counts, so hammering a full window does not shorten the wait.
    """
    now = time.time()
    window = int(now // limit.seconds)
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    name = f"{settings.CACHE_NAMESPACE}:{limit.scope}:{window}:{digest}"
    try:
        cache.add(name, 0, limit.seconds + 1)
        count = int(cache.incr(name))
    except ValueError:  # the entry expired between add and incr: a new window began
        return
    except Exception:  # the shared cache is unreachable: fail open, say so
        logger.warning("rate limit %s not checked: cache unavailable", limit.scope, exc_info=True)
        return
    if count > limit.count:
        retry_after = max(1, math.ceil((window + 1) * limit.seconds - now))
        raise RateLimited(message, retry_after=retry_after)


View = Callable[..., HttpResponse]


def per_address(
    limit: Callable[[], Limit], refuse: Callable[[HttpRequest, RateLimited], HttpResponse]
) -> Callable[[View], View]:
    """A view decorator: every POST counts against ``limit()`` for the client's address.

    ``limit`` is called per request (so settings overridden at run time apply); ``refuse``
    renders the answer over the limit in the view's own form (a page, a JSON body), which
    gets the status 429 and ``Retry-After`` here. GET requests (showing a form) are free.
    """

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method == "POST":
                try:
                    hit(limit(), client_address(request))
                except RateLimited as exc:
                    response = refuse(request, exc)
                    response.status_code = 429
                    response["Retry-After"] = str(exc.retry_after)
                    return response
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
