"""Request ids and the log format: one JSON object per line, each with its request id.

The request id names one piece of work across processes: the web request that started
it (``smartid.middleware.RequestIdMiddleware`` takes a sane ``X-Request-ID`` or makes
one) and every Celery task that request enqueued (``smartid.celery`` carries it in the
task's headers and sets it again in the worker). It lives in a context variable, so the
threads and coroutines of one request see it and other requests never do; every log
record gets it through :class:`RequestIdFilter`.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import secrets
from datetime import UTC, datetime
from typing import Any

#: What an incoming X-Request-ID may be: what proxies and tracers send (UUIDs, hex,
#: base64url-ish tokens), nothing that could forge a log line or a header.
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{8,64}")

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")


def new_request_id() -> str:
    """A fresh id: 128 random bits, hex."""
    return secrets.token_hex(16)


def sane_request_id(value: str | None) -> str | None:
    """``value`` if it is an acceptable incoming request id, else None."""
    if value and _SANE_ID.fullmatch(value):
        return value
    return None


def current_request_id() -> str:
    """The id of the work this code runs for ("" outside any request or task)."""
    return _request_id.get()


def bind_request_id(value: str) -> contextvars.Token[str]:
    """Make ``value`` the current id; give the token to :func:`reset_request_id`."""
    return _request_id.set(value)


def reset_request_id(token: contextvars.Token[str]) -> None:
    _request_id.reset(token)


class RequestIdFilter(logging.Filter):
    """Adds ``record.request_id`` (the current id, or "-") to every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = _request_id.get() or "-"
        return True


#: LogRecord attributes that are not extra fields of a call.
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()
    | {"message", "asctime", "request_id", "taskName"}
)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time`` (UTC, ISO 8601), ``level``, ``logger``,
    ``message``, ``request_id``, then the call's ``extra`` fields and ``exception``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or _request_id.get() or "-",
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)
