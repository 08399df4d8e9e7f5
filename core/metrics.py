"""The platform's Prometheus metrics, defined once so that every layer can count.

The metric objects live on the ground floor so that a domain app (``signing``, ``pki``)
counts without importing the web layer; ``smartid/metrics.py`` serves them at
``/metrics`` together with the gauges computed at scrape time (queue depth, key pool,
CRL age). Names, labels and meanings: docs/operations.md.

Several processes (``uvicorn --workers N``, Celery's prefork children): when
``PROMETHEUS_MULTIPROC_DIR`` is set in the environment before Python starts,
prometheus-client keeps every process's values in files of that folder and ``/metrics``
adds them up (:func:`multiprocess_dir`). Without it the values live in the process
(one ASGI process, the embedded default). Only counters and histograms are defined
here: they add up correctly across processes; gauges are computed at scrape time.

Label values are always from small closed sets (a relying party's registered name, an
API version, a result code) so that no request can create a new time series at will.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from django.db import transaction
from prometheus_client import Counter, Histogram

#: Latency buckets of HTTP requests and quick operations, in seconds.
FAST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

HTTP_REQUEST_SECONDS = Histogram(
    "smartid_http_request_duration_seconds",
    "Time from the request reaching Django to the response, by route pattern.",
    ["method", "route", "status"],
    buckets=FAST_BUCKETS,
)
RP_SESSIONS_STARTED = Counter(
    "smartid_rp_sessions_started",
    "RP API sessions created (an idempotent repeat within 15 s is not a new session).",
    ["rp", "version", "type"],
)
RP_SESSIONS_ENDED = Counter(
    "smartid_rp_sessions_ended",
    "RP API sessions that reached their end result (in the session's API vocabulary).",
    ["rp", "version", "type", "end_result"],
)
TRANSACTIONS_FINISHED = Counter(
    "smartid_transactions_finished",
    "Device transactions that ended (RP sessions, onboarding logins), by stored result.",
    ["kind", "result"],
)
PIN_FAILURES = Counter(
    "smartid_pin_failures",
    "Wrong PINs (a partial signature that does not verify), by key purpose.",
    ["purpose"],
)
PIN_LOCKS = Counter(
    "smartid_pin_locks",
    "Keys locked by wrong PINs: 'temporary' (3 h, 24 h) or 'revoked' (the last try).",
    ["purpose", "lock"],
)
PIN_LOCKED_ATTEMPTS = Counter(
    "smartid_pin_locked_attempts",
    "Answers refused because the key was locked or revoked.",
    ["purpose"],
)
CLONE_DETECTIONS = Counter(
    "smartid_clone_detections",
    "Stale one-time tokens: 'confirmed' (a valid share with a stale token: the key is"
    " destroyed) or 'suspected' (a token refresh with a stale token: the key is marked).",
    ["purpose", "stage"],
)
CERTIFICATE_ISSUANCE_SECONDS = Histogram(
    "smartid_certificate_issuance_duration_seconds",
    "Time to issue one end-entity certificate (checks, the row, the CA signature, audit).",
    ["purpose", "level"],
    buckets=FAST_BUCKETS,
)
OCSP_RESPONSES = Counter(
    "smartid_ocsp_responses",
    "OCSP answers: good/revoked/unknown (signed now), cached, malformed, unauthorized.",
    ["result"],
)
CELERY_TASK_SECONDS = Histogram(
    "smartid_celery_task_duration_seconds",
    "Run time of Celery tasks in the process that ran them, by task and final state.",
    ["task", "state"],
    buckets=(*FAST_BUCKETS, 60.0, 300.0),
)


def multiprocess_dir() -> str | None:
    """The folder of multiprocess mode, or None (values live in this process)."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def on_commit(count: Callable[[], None]) -> None:
    """Count when the surrounding database transaction commits (at once outside one):
    a rolled-back PIN try or session never shows in the metrics. ``robust``: a failing
    count is logged, never an error of the request whose work has already committed."""
    transaction.on_commit(count, robust=True)
