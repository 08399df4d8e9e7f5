"""The acceptance test of the request id across processes: a web request enqueues a task
over Redis, a real ``celery worker`` runs it, and the worker's JSON log line carries the
web request's id (``before_task_publish`` → message header → ``task_prerun``)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings as django_settings
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers.platform import Platform, auth_transaction
from tests.personas import PIN1

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{params['NAME']}"
    user = params.get("USER") or "postgres"
    host = params.get("HOST") or "127.0.0.1"
    port = params.get("PORT") or 5432
    return f"postgresql://{user}@{host}:{port}/{params['NAME']}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def metrics_port() -> int:
    return _free_port()


@pytest.fixture
def worker_log(platform: Platform, tmp_path: Path, metrics_port: int) -> Iterator[Path]:
    """A JSON-logging worker on this test's database; the web side enqueues to Redis."""
    if not django_settings.REDIS_URL:
        if os.environ.get("CI"):
            pytest.fail("REDIS_URL is required for the real-worker test")
        pytest.skip("needs REDIS_URL (a real broker)")
    from smartid.celery import app as celery_app

    log = tmp_path / "worker.log"
    data_dir = tmp_path / "worker-data"
    data_dir.mkdir()
    env = {
        **os.environ,
        "SMARTID_ENV": "test",
        "SMARTID_DATA_DIR": str(data_dir),
        "SMARTID_KEK_FILE": str(django_settings.KEYSTORE_KEK_FILE),
        "DATABASE_URL": _database_url(),
        "REDIS_URL": django_settings.REDIS_URL,
        "SMARTID_CELERY_EAGER": "false",
        "SMARTID_LOG_FORMAT": "json",
        "SMARTID_ACCESS_LOG": "true",
        "SMARTID_WORKER_METRICS_PORT": str(metrics_port),
        "SITE_URL": platform.url,
    }
    saved = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    celery_app.control.purge()
    process = subprocess.Popen(  # noqa: S603 -- our own interpreter and module
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "smartid",
            "worker",
            "--pool=solo",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    try:
        yield log
    finally:
        celery_app.conf.task_always_eager = saved
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _json_lines(log: Path) -> list[dict[str, Any]]:
    entries = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # Celery's start-up banner is printed, not logged
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


def test_the_worker_logs_the_request_id_of_the_web_request(
    platform: Platform, worker_log: Path, metrics_port: int
) -> None:
    app, account = platform.registered()
    copy = platform.clone(app)
    tx = auth_transaction(account)
    [pending] = [t for t in app.pending(timeout_ms=5000) if t.id == str(tx.pk)]
    assert app.approve(pending, PIN1).status == "OK"
    tx = auth_transaction(account)
    [pending] = [t for t in copy.pending(timeout_ms=5000) if t.id == str(tx.pk)]
    # The clone's answer revokes the certificates; the revocation enqueues publish_crl.
    assert copy.approve(pending, PIN1).status == "CLONE_DETECTED"
    _, response = copy.recorder.last("/confirm")  # type: ignore[attr-defined]
    request_id = response.headers["X-Request-ID"]

    def done() -> list[dict[str, Any]]:
        return [
            e
            for e in _json_lines(worker_log)
            if e.get("logger") == "smartid.tasks" and e.get("task") == "pki.tasks.publish_crl"
        ]

    deadline = time.monotonic() + 60
    while len(done()) < 2:  # one per revoked certificate (AUTH and SIGN)
        if time.monotonic() > deadline:
            tail = worker_log.read_text(errors="replace")[-3000:]
            raise AssertionError(f"the worker ran no publish_crl\n--- worker log ---\n{tail}")
        time.sleep(0.1)
    assert {e["request_id"] for e in done()} == {request_id}
    assert {e["state"] for e in done()} == {"SUCCESS"}
    # Every line the worker logged is JSON with a request id.
    assert all("request_id" in e for e in _json_lines(worker_log))

    # The worker's own exporter (SMARTID_WORKER_METRICS_PORT) counted the two runs.
    exposed = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
    runs = [
        sample.value
        for family in text_string_to_metric_families(exposed)
        for sample in family.samples
        if sample.name == "smartid_celery_task_duration_seconds_count"
        and sample.labels == {"task": "pki.tasks.publish_crl", "state": "SUCCESS"}
    ]
    assert runs == [2.0]
