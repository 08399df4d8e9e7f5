"""The Celery application: ``celery -A smartid worker``.

Without a broker URL (the embedded mode) ``CELERY_TASK_ALWAYS_EAGER`` makes
tasks run in the calling process, so one command runs the whole platform.

The request id follows the work into the worker: ``before_task_publish`` puts the
current one into the message's headers, ``task_prerun`` binds it in the worker (a task
no request enqueued, e.g. from beat, takes its own task id), ``task_postrun`` logs one
line per task and observes its run time (docs/operations.md).
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from celery import Celery
from celery.signals import (
    before_task_publish,
    task_postrun,
    task_prerun,
    worker_init,
    worker_ready,
)

from core import logs

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartid.settings")

app = Celery("smartid")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

#: The message header that carries the request id.
REQUEST_ID_HEADER = "smartid_request_id"
task_log = logging.getLogger("smartid.tasks")
# task id → (the context token to reset, when the task started)
_running: dict[str, tuple[Any, float]] = {}


@worker_init.connect
def _refuse_unsafe_worker(**kwargs: object) -> None:
    # Imported when the worker starts: the checks need the apps loaded, and this module is
    # imported before Django is set up (smartid/__init__.py loads the Celery app).
    from smartid.checks import refuse_unsafe_start

    refuse_unsafe_start()


@worker_ready.connect
def _serve_worker_metrics(**kwargs: object) -> None:
    """A worker's own exporter on ``127.0.0.1:SMARTID_WORKER_METRICS_PORT`` (0 = none): the
    worker processes' counters for a host whose multiprocess folder no web process reads
    (docs/operations.md)."""
    from django.conf import settings
    from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server

    from core import metrics

    port = settings.WORKER_METRICS_PORT
    if not port:
        return
    registry = REGISTRY
    if metrics.multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    start_http_server(port, addr="127.0.0.1", registry=registry)
    logging.getLogger(__name__).info("worker metrics on http://127.0.0.1:%d/metrics", port)


@before_task_publish.connect
def _send_request_id(headers: dict[str, Any] | None = None, **kwargs: object) -> None:
    request_id = logs.current_request_id()
    if request_id and headers is not None:
        headers.setdefault(REQUEST_ID_HEADER, request_id)


@task_prerun.connect
def _bind_request_id(task_id: str = "", task: Any = None, **kwargs: object) -> None:
    sent = logs.sane_request_id(getattr(getattr(task, "request", None), REQUEST_ID_HEADER, None))
    if sent:
        token = logs.bind_request_id(sent)
    elif not logs.current_request_id():  # beat's tasks; an eager task keeps its request's
        token = logs.bind_request_id(logs.sane_request_id(task_id) or logs.new_request_id())
    else:
        token = None
    _running[task_id] = (token, time.perf_counter())


@task_postrun.connect
def _task_done(
    task_id: str = "", task: Any = None, state: str | None = None, **kwargs: object
) -> None:
    token, started = _running.pop(task_id, (None, time.perf_counter()))
    elapsed = time.perf_counter() - started
    name = getattr(task, "name", "?")
    try:
        from core import metrics

        metrics.CELERY_TASK_SECONDS.labels(task=name, state=state or "UNKNOWN").observe(elapsed)
        task_log.info(
            "task %s %s %.1f ms",
            name,
            state,
            elapsed * 1000,
            extra={
                "task": name,
                "task_id": task_id,
                "state": state,
                "duration_ms": round(elapsed * 1000, 1),
            },
        )
    finally:
        if token is not None:
            logs.reset_request_id(token)
