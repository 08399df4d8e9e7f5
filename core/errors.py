"""The one base class of every business-rule error (docs/style.md point 2)."""

from __future__ import annotations


class DomainError(Exception):
    """A request that breaks a business rule. Interfaces map it to a 4xx answer."""

    #: A stable machine-readable code, e.g. for API error bodies and logs.
    code: str = "domain_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` says a shared service (PostgreSQL, Redis) did not answer or
    refused the connection: nothing is wrong with the request, and the same request may
    succeed in a moment. Interfaces answer it with 503, not 500 (smartid/middleware.py).

    Django's ``OperationalError`` is the database's "cannot serve now" (connection lost,
    server shutting down, pool timeout, deadlock); ``InterfaceError`` a connection that
    was already closed. Integrity and programming errors are defects and stay 500.
    """
    import redis
    from django.db import InterfaceError, OperationalError

    return isinstance(exc, (redis.ConnectionError, redis.TimeoutError, OperationalError,
                            InterfaceError))  # fmt: skip
