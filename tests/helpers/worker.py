"""A real Celery worker for the tests that kill one (docs/design.md §5: acks late,
idempotent tasks).

The worker is its own process (``celery -A smartid worker``) on the test's database and
Redis; the web side is the in-process ASGI server of the other tests, switched from eager
tasks to the broker while the workers run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
#: Seconds before a killed worker's task is delivered again (the settings' minimum).
VISIBILITY_TIMEOUT = 10


def database_url() -> str:
    """The test database as a ``DATABASE_URL`` for the worker process."""
    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{params['NAME']}"
    user = params.get("USER") or "postgres"
    host = params.get("HOST") or "127.0.0.1"
    port = params.get("PORT") or 5432
    return f"postgresql://{user}@{host}:{port}/{params['NAME']}"


class Worker:
    """One ``celery worker`` process; ``kill()`` is SIGKILL."""

    def __init__(self, env: Mapping[str, str], log: Path) -> None:
        self.env, self.log = dict(env), log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 -- our own interpreter and module
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "smartid",
                "worker",
                "--pool=solo",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def worker_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a worker on this test's database, Redis and key store (its data
    folder is the test's, never the demo's var/; it shares the test's key-encryption key).
    """
    data_dir = tmp_path / "worker-data"
    data_dir.mkdir(exist_ok=True)
    return {
        **os.environ,
        "SMARTID_ENV": "test",
        "SMARTID_DATA_DIR": str(data_dir),
        "SMARTID_KEK_FILE": str(settings.KEYSTORE_KEK_FILE),
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "SMARTID_CELERY_EAGER": "false",
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        **extra,
    }


@contextmanager
def real_workers(log: Path) -> Iterator[Callable[[Mapping[str, str]], Worker]]:
    """Start workers on demand (``start(env)``); meanwhile the test process enqueues to
    Redis instead of running tasks eagerly. Skipped without a broker (CI requires one).
    """
    if not settings.REDIS_URL:
        if os.environ.get("CI"):
            pytest.fail("REDIS_URL is required for the real-worker tests")
        pytest.skip("needs REDIS_URL (a real broker)")
    from smartid.celery import app as celery_app

    saved = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    celery_app.control.purge()  # nothing left over from an earlier run
    started: list[Worker] = []

    def start(env: Mapping[str, str]) -> Worker:
        worker = Worker(env, log)
        worker.start()
        started.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in started:
            worker.stop()
        celery_app.conf.task_always_eager = saved


def wait_for(condition: Callable[[], bool], seconds: float, what: str, log: Path) -> None:
    """Poll ``condition`` until it holds; on the deadline fail with the worker's log."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise AssertionError(f"timed out waiting for {what}\n--- worker log ---\n{tail}")
        time.sleep(0.05)
